/**
 * @module doctor/checks/iface
 * iface.chosen: the interface flanneld uses between nodes and why, with --iface hints where the
 * choice is a guess; iface.peers-reachable: every peer's PublicIP is routed out of that interface.
 */
import { describeLease } from '../../lease/index.ts';
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { describeRoute, errorOf, isPodDevice, linkName, lookupRoute, ownLease, peerLeases, restartFlanneld, valueOf } from './common.ts';

function chosen(f: NodeFacts): CheckResult {
  const id = 'iface.chosen';
  const iface = valueOf(f.iface);
  if (!iface) {
    return fail(id, `no usable interface: ${errorOf(f.iface) ?? ''}`, 'name the node network\'s interface: flanneld --iface=<nic> (or --iface-regex / --iface-can-reach=<peer address>)');
  }
  const saw = `${iface.name}${iface.address ? ` ${iface.address}` : ''} (${iface.why})`;
  if (!iface.address) return fail(id, `${saw} has no IPv4/IPv6 address`, `give ${iface.name} an address, or choose another interface with --iface=<nic>`);
  const kernel = valueOf(f.kernel);
  const explicit = f.options.interfaces.iface.length > 0 || f.options.interfaces.ifaceRegex.length > 0 || f.options.interfaces.ifaceCanReach !== undefined;
  const own = ownLease(f);
  const pub = own?.attrs.publicIP ?? own?.attrs.publicIPv6;
  const overridden = [f.options.interfaces.publicIP, f.options.interfaces.publicIPv6].some((p) => p && pub && p.equals(pub));
  if (kernel && pub && !overridden && pub.toString() !== iface.address) {
    const holder = kernel.addrs.find((a) => a.ip.equals(pub));
    if (holder) {
      const other = linkName(kernel, holder.linkIndex);
      return warn(id, `${saw}, but this node's lease carries ${pub.toString()}, the address of ${other}`, `run flanneld with --iface=${other} (the node network), or restart it so the lease follows ${iface.name}`);
    }
  }
  if (kernel && !explicit) {
    const withDefault = [
      ...new Set(
        kernel.routes
          .filter((r) => r.dst.prefix === 0 && r.type === 'unicast' && r.linkIndex !== undefined)
          .map((r) => linkName(kernel, r.linkIndex))
          .filter((n) => !isPodDevice(n) && n !== 'lo'),
      ),
    ];
    if (withDefault.length > 1) {
      return warn(id, `${saw}; default routes on ${withDefault.join(', ')}: the choice is a guess`, `name the node network's interface: flanneld --iface=<nic> (one of ${withDefault.join(', ')}); ${restartFlanneld(f)}`);
    }
  }
  return ok(id, saw);
}

function peersReachable(f: NodeFacts): CheckResult {
  const id = 'iface.peers-reachable';
  const iface = valueOf(f.iface);
  if (!iface) return skip(id, 'no interface chosen (see iface.chosen)');
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  const peers = peerLeases(f);
  if (!peers) return skip(id, `leases unreadable (see datastore.reachable): ${errorOf(f.datastore.leases) ?? ''}`);
  if (peers.length === 0) return ok(id, 'no peers yet');
  const bad: string[] = [];
  const elsewhere: string[] = [];
  let fix = '';
  for (const p of peers) {
    for (const pub of [p.attrs.publicIP, p.attrs.publicIPv6]) {
      if (!pub) continue;
      const r = lookupRoute(kernel, pub);
      if (!r || r.type === 'unreachable' || r.type === 'blackhole' || r.type === 'prohibit') {
        bad.push(`${pub.toString()} (${describeLease(p)}): ${r ? describeRoute(kernel, r) : 'no route'}`);
        fix ||= `add a route to the node network through ${iface.name}: ip route replace ${pub.toString()}/${pub.bits} via <gateway> dev ${iface.name}`;
      } else if (r.linkIndex !== iface.index) {
        const dev = linkName(kernel, r.linkIndex);
        elsewhere.push(`${pub.toString()} goes out via ${dev} (${describeRoute(kernel, r)}), not ${iface.name}`);
        fix ||= `choose the interface that reaches the peers: flanneld --iface=${dev}, or route them through ${iface.name}: ip route replace ${pub.toString()}/${pub.bits}${r.gateway ? ' via <gateway>' : ''} dev ${iface.name}`;
      }
    }
  }
  if (bad.length > 0) return fail(id, bad.concat(elsewhere).join('; '), fix);
  if (elsewhere.length > 0) return warn(id, elsewhere.join('; '), fix);
  const ips = peers.map((p) => (p.attrs.publicIP ?? p.attrs.publicIPv6)?.toString()).filter(Boolean);
  return ok(id, `${ips.length} peer address(es) routed via ${iface.name}: ${ips.join(', ')}`);
}

export const ifaceChecks: CheckSpec[] = [
  { id: 'iface.chosen', summary: 'the interface flanneld uses between nodes, and why; --iface hints when several NICs have default routes or the lease carries another NIC\'s address', run: chosen },
  { id: 'iface.peers-reachable', summary: "every peer's PublicIP is routed out of the chosen interface", run: peersReachable },
];

