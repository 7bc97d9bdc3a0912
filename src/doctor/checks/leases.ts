/**
 * @module doctor/checks/leases
 * leases.backend-type: one backend for the whole cluster; leases.duplicates: no two leases share a
 * PublicIP or a VTEP MAC (cloned VMs, every Vagrant VM on 10.0.2.15).
 */
import { describeLease, type Lease } from '../../lease/index.ts';
import { decodeVxlanData } from '../../backend/vxlan/backend-data.ts';
import { decodeWireguardData } from '../../backend/wireguard/backend-data.ts';
import { fail, ok, skip, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { configOf, configWhere, errorOf, listSome, valueOf } from './common.ts';

function backendType(f: NodeFacts): CheckResult {
  const id = 'leases.backend-type';
  const leases = valueOf(f.datastore.leases);
  if (!leases) return skip(id, `leases unreadable (see datastore.reachable): ${errorOf(f.datastore.leases) ?? ''}`);
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const want = config.backend.type;
  const other = leases.filter((l) => l.attrs.backendType !== want);
  if (other.length === 0) return ok(id, `all ${leases.length} lease(s) use ${want}`);
  return fail(
    id,
    `${other.length} of ${leases.length} lease(s) do not use ${want}: ${listSome(other.map((l) => `${describeLease(l)} uses ${l.attrs.backendType}`))}`,
    `one backend for the whole cluster: restart flanneld on those nodes with ${configWhere(f)} (Backend.Type "${want}"); nodes of another type get no route`,
  );
}

function groupBy(leases: readonly Lease[], key: (l: Lease) => string | undefined): Map<string, Lease[]> {
  const out = new Map<string, Lease[]>();
  for (const l of leases) {
    const k = key(l);
    if (k === undefined) continue;
    out.set(k, [...(out.get(k) ?? []), l]);
  }
  return out;
}

function duplicates(f: NodeFacts): CheckResult {
  const id = 'leases.duplicates';
  const leases = valueOf(f.datastore.leases);
  if (!leases) return skip(id, `leases unreadable (see datastore.reachable): ${errorOf(f.datastore.leases) ?? ''}`);
  const found: string[] = [];
  const subnets = (ls: Lease[]): string => ls.map((l) => [l.subnet, l.ipv6Subnet].filter(Boolean).map(String).join('+')).join(', ');
  const report = (what: string, groups: Map<string, Lease[]>): void => {
    for (const [k, ls] of groups) if (ls.length > 1) found.push(`${what} ${k} in ${ls.length} leases (${subnets(ls)})`);
  };
  report('PublicIP', groupBy(leases, (l) => l.attrs.publicIP?.toString()));
  report('PublicIPv6', groupBy(leases, (l) => l.attrs.publicIPv6?.toString()));
  const vxlan = leases.filter((l) => l.attrs.backendType === 'vxlan');
  report('VtepMAC', groupBy(vxlan, (l) => {
    const d = decodeVxlanData(l.attrs.backendData);
    return 'vtepMac' in d ? d.vtepMac : undefined;
  }));
  report('WireGuard key', groupBy(leases.filter((l) => l.attrs.backendType === 'wireguard'), (l) => {
    const d = decodeWireguardData(l.attrs.backendData);
    return 'publicKey' in d ? d.publicKey : undefined;
  }));
  if (found.length === 0) return ok(id, `${leases.length} lease(s): every PublicIP and VTEP MAC is unique`);
  return fail(
    id,
    listSome(found),
    'each node needs its own address and MAC (cloned VMs: give each a unique IP/MAC, /etc/machine-id); on multi-NIC nodes pick the node network with --iface=<nic> or --public-ip=<address>, then restart flanneld there',
  );
}

export const leasesChecks: CheckSpec[] = [
  { id: 'leases.backend-type', summary: "every lease uses the config's backend type (one backend per cluster)", run: backendType },
  { id: 'leases.duplicates', summary: 'no two leases share a PublicIP, a VTEP MAC or a WireGuard key (cloned VMs, multi-NIC)', run: duplicates },
];
