/**
 * @module doctor/checks/lease
 * lease.own: this node's lease (the one whose subnet is subnet.env's) exists, is unexpired, carries
 * an address of this node and the configured backend type.
 */
import { describeLease } from '../../lease/index.ts';
import { fail, ok, skip, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { configOf, errorOf, ownLease, restartFlanneld, subnetEnvOf, valueOf } from './common.ts';

function run(f: NodeFacts): CheckResult {
  const id = 'lease.own';
  const leases = valueOf(f.datastore.leases);
  if (!leases) return skip(id, `leases unreadable (see datastore.reachable): ${errorOf(f.datastore.leases) ?? ''}`);
  const env = subnetEnvOf(f);
  if (!env) return skip(id, 'subnet.env unreadable, so this node\'s subnet is unknown (see subnetenv.file)');
  const want = [env.subnet, env.ipv6Subnet].filter(Boolean).map(String).join(' + ');
  const lease = ownLease(f);
  const where = f.options.subnetManager === 'etcd' ? ` (etcd key ${f.options.etcd.prefix}/subnets/${(env.subnet ?? env.ipv6Subnet)?.toString().replace('/', '-') ?? ''})` : '';
  if (!lease) {
    return fail(id, `no lease for ${want} (subnet.env) among ${leases.length} lease(s)${where}`, `${restartFlanneld(f)}: it acquires a lease again (the same subnet when still free) and rewrites subnet.env`);
  }
  const problems: string[] = [];
  let fix = restartFlanneld(f);
  const expiry = lease.expiration;
  if (expiry && expiry.getTime() <= Date.now()) problems.push(`expired at ${expiry.toISOString()}`);
  const pub = lease.attrs.publicIP ?? lease.attrs.publicIPv6;
  const kernel = valueOf(f.kernel);
  const overridden = [f.options.interfaces.publicIP, f.options.interfaces.publicIPv6].some((p) => p && pub && p.equals(pub));
  if (pub && kernel && !overridden && !kernel.addrs.some((a) => a.ip.equals(pub))) {
    problems.push(`its PublicIP ${pub.toString()} is no address of this node (another node's lease, or a cloned VM?)`);
    fix = `give each node its own subnet: ${restartFlanneld(f)} on this node${f.options.subnetManager === 'etcd' ? ` after deleting the wrong key (etcdctl del ${f.options.etcd.prefix}/subnets/<key>) and ${f.subnetEnv.path}` : ''}`;
  }
  const config = configOf(f);
  if (config && lease.attrs.backendType !== config.backend.type) {
    problems.push(`backend type ${lease.attrs.backendType}, the config says ${config.backend.type}`);
  }
  const saw = `${describeLease(lease)}, ${lease.attrs.backendType}, ${expiry ? `expires ${expiry.toISOString()}` : 'reservation (no TTL)'}`;
  if (problems.length > 0) return fail(id, `${saw}: ${problems.join('; ')}`, fix);
  return ok(id, saw);
}

export const leaseChecks: CheckSpec[] = [
  { id: 'lease.own', summary: "this node's lease (subnet = subnet.env's) exists, is unexpired, carries this node's address and the config's backend type", run },
];
