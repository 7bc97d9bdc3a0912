/**
 * @module doctor/checks/connectivity
 * connectivity.peers (only with --connectivity): each peer probed through the overlay and on the
 * underlay, which tells "UDP 8472 blocked on the path" (underlay answers, overlay does not) from
 * "peer down" (neither answers).
 */
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts, ProbeResult } from '../facts.ts';
import { backendUdpPorts, backendView } from './backend-view.ts';
import { configOf } from './common.ts';

function probeText(kind: string, p: ProbeResult | undefined): string {
  if (!p) return `${kind} not probed`;
  return `${kind} ${p.target} ${p.ok ? `ok${p.rttMs !== undefined ? ` ${p.rttMs.toFixed(1)} ms` : ''}` : 'no answer'}`;
}

function run(f: NodeFacts): CheckResult | CheckResult[] {
  const id = 'connectivity.peers';
  if (!f.probes) return skip(id, 'not probed (run doctor --connectivity)');
  if (f.probes.length === 0) return ok(id, 'no peers to probe');
  const config = configOf(f);
  const view = config ? backendView(config) : undefined;
  const ports = view && config && !('problem' in view) ? backendUdpPorts(view, config) : [];
  const path = view && !('problem' in view) && view.ipip ? 'IP protocol 4 (ipip)' : ports.length > 0 ? `UDP ${ports.map((p) => p.port).join('/')}` : 'pod traffic';
  return f.probes.map((p) => {
    const saw = `${p.peer}: ${probeText('overlay', p.overlay)}, ${probeText('underlay', p.underlay)}`;
    const over = p.overlay?.ok;
    const under = p.underlay?.ok;
    if (over === true) return ok(id, saw);
    if (over === false && under === true) {
      return fail(id, `${saw}: ${path} blocked on the path`, `open ${path} between the nodes: on the peer and any firewall/security group in between (e.g. iptables -I INPUT -p udp --dport ${ports[0]?.port ?? 8472} -j ACCEPT on the peer); check the peer's doctor too`);
    }
    if (over === false && under === false) return fail(id, `${saw}: peer down or unreachable`, 'check the peer node is up and reachable on the node network (ping its PublicIP), and that its flanneld runs');
    return warn(id, `${saw}: incomplete probe`, 'run doctor --connectivity again; check the peer by hand with ping');
  });
}

export const connectivityChecks: CheckSpec[] = [
  { id: 'connectivity.peers', summary: 'only with --connectivity: per peer, overlay and underlay ping with RTTs; tells "UDP port blocked on the path" from "peer down"', run },
];
