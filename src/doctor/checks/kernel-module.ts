/**
 * @module doctor/checks/kernel-module
 * kernel.backend-module: the kernel can build the backend's device (vxlan, wireguard or tun for
 * wireguard-go, ipip, tun for udp): its module is loaded, or the device already exists.
 */
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { backendDevices, backendView } from './backend-view.ts';
import { configOf, valueOf } from './common.ts';

const MODULE: Record<string, string> = { vxlan: 'vxlan', wireguard: 'wireguard', ipip: 'ipip', udp: 'tun' };

function run(f: NodeFacts): CheckResult {
  const id = 'kernel.backend-module';
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const view = backendView(config);
  if ('problem' in view) return skip(id, `Backend section unusable: ${view.problem}`);
  const mod = MODULE[view.type];
  if (!mod) return skip(id, `${view.type} needs no kernel module`);
  const devices = backendDevices(view, config).map((d) => d.name);
  const present = valueOf(f.kernel)?.links.filter((l) => devices.includes(l.name)) ?? [];
  if (f.modules.includes(mod)) return ok(id, `module ${mod} loaded${present.length > 0 ? `, ${present.map((l) => l.name).join(', ')} present` : ''}`);
  if (present.length > 0) return ok(id, `${present.map((l) => `${l.name} (${l.kind ?? 'device'})`).join(', ')} present (module ${mod} built in or loaded)`);
  if (view.type === 'wireguard') {
    if (f.modules.includes('tun') && view.wireguard?.implementation !== 'kernel') {
      return ok(id, 'no wireguard module; tun is there for wireguard-go (userspace WireGuard)');
    }
    return fail(id, 'neither the wireguard module nor tun (for wireguard-go) is loaded, and flannel-wg does not exist', 'modprobe wireguard (kernel ≥ 5.6), or install wireguard-go and modprobe tun');
  }
  if (view.type === 'udp') {
    return warn(id, 'tun not in /proc/modules or /sys/module and flannel0 does not exist (tun may be built in)', 'modprobe tun (and check /dev/net/tun exists)');
  }
  return fail(id, `module ${mod} not loaded and ${devices.join(', ')} does not exist`, `modprobe ${mod}${view.type === 'ipip' ? ' (or use vxlan when this kernel has no ipip module)' : ''}`);
}

export const kernelModuleChecks: CheckSpec[] = [
  { id: 'kernel.backend-module', summary: "the backend's kernel module (vxlan, wireguard or tun for wireguard-go, ipip, tun for udp) is loaded or its device exists", run },
];
