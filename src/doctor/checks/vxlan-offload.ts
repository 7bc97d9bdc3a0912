/**
 * @module doctor/checks/vxlan-offload
 * vxlan.checksum-offload: on kernels before 5.7, VXLAN TX checksum offload plus NAT corrupts the
 * outer UDP checksum (63 s stalls, "bad udp cksum", ff#1279): tx-checksum-ip-generic must be off.
 */
import { kernelLacksVxlanChecksumFix } from '../../config/daemon-options.ts';
import { ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { backendDevices, backendView } from './backend-view.ts';
import { configOf, errorOf, valueOf } from './common.ts';

function run(f: NodeFacts): CheckResult {
  const id = 'vxlan.checksum-offload';
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const view = backendView(config);
  if ('problem' in view || !view.vxlan) return skip(id, `not vxlan (${'problem' in view ? 'Backend section unusable' : view.type})`);
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  if (!kernelLacksVxlanChecksumFix(kernel.release)) return skip(id, `kernel ${kernel.release} has the VXLAN checksum fix (5.7+)`);
  const states = backendDevices(view, config).map((d) => ({ dev: d.name, state: f.txChecksum[d.name] }));
  const on = states.filter((s) => s.state && 'value' in s.state && s.state.value === 'on');
  const saw = `kernel ${kernel.release} (< 5.7): ${states.map((s) => `${s.dev} tx-checksum-ip-generic ${s.state ? ('value' in s.state ? s.state.value : `unreadable: ${s.state.error}`) : 'not read'}`).join(', ')}`;
  if (on.length > 0) {
    return warn(id, `${saw}: behind NAT VXLAN packets get bad UDP checksums`, `${on.map((s) => `ethtool -K ${s.dev} tx-checksum-ip-generic off`).join(' && ')} (flanneld does it with --vxlan-disable-tx-checksum-offload)`);
  }
  if (states.every((s) => !s.state || 'error' in s.state)) return skip(id, `${saw}: offload state unknown`);
  return ok(id, saw);
}

export const vxlanOffloadChecks: CheckSpec[] = [
  { id: 'vxlan.checksum-offload', summary: 'vxlan on kernels < 5.7: tx-checksum-ip-generic off on flannel.<VNI> (skipped otherwise)', run },
];
