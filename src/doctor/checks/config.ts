/**
 * @module doctor/checks/config
 * config.network-overlap: the Network does not overlap the host's own networks (the seeds'
 * Calico 192.168.0.0/16 trap); config.pod-cidr: in kube mode the node's spec.podCIDR exists and
 * lies inside the Network.
 */
import { Cidr } from '../../ip/index.ts';
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { cidrOf, configOf, configWhere, errorOf, families, isPodDevice, linkName, mainRoutes, networkOf, subnetEnvOf, valueOf } from './common.ts';

const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;

function overlap(f: NodeFacts): CheckResult {
  const id = 'config.network-overlap';
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  const names = new Map(kernel.links.map((l) => [l.index, l.name]));
  const host = (index: number | undefined): string | undefined => {
    const n = index === undefined ? undefined : names.get(index);
    return n === undefined || n === 'lo' || isPodDevice(n) ? undefined : n;
  };
  const ifaceIndex = valueOf(f.iface)?.index;
  // A bridge holding this node's own pod subnet is the pod bridge by another name (as flanneld
  // itself treats it when it keeps its subnet): not a host network.
  const env = subnetEnvOf(f);
  const own = [env?.subnet, env?.ipv6Subnet].filter((c): c is Cidr => c !== undefined);
  const podBridge = (net: Cidr, linkIndex: number | undefined): boolean => linkIndex !== ifaceIndex && own.some((o) => o.containsCidr(net));
  const leaseSubnets = (valueOf(f.datastore.leases) ?? []).flatMap((l) => [l.subnet, l.ipv6Subnet]).filter((c): c is Cidr => c !== undefined);
  const hard = new Map<string, string>();
  const soft: string[] = [];
  for (const family of families(config)) {
    const network = networkOf(config, family);
    if (!network) continue;
    const key = family === 4 ? 'Network' : 'IPv6Network';
    for (const a of kernel.addrs) {
      const dev = host(a.linkIndex);
      if (!dev || a.ip.family !== family || a.scope === RT_SCOPE_HOST || (family === 6 && a.scope === RT_SCOPE_LINK)) continue;
      const net = cidrOf(a.ip, a.prefix);
      if (podBridge(net, a.linkIndex)) continue;
      if (net.overlaps(network)) hard.set(`${net.toString()} ${dev}`, `${key} ${network.toString()} overlaps ${a.ip.toString()}/${a.prefix} on ${dev}`);
    }
    for (const r of mainRoutes(kernel, family)) {
      const dev = host(r.linkIndex);
      if (!dev || r.type !== 'unicast' || r.dst.prefix === 0 || !r.dst.overlaps(network)) continue;
      if (!r.gateway && r.scope === RT_SCOPE_LINK) {
        if (podBridge(r.dst, r.linkIndex)) continue;
        const k = `${r.dst.toString()} ${dev}`;
        if (!hard.has(k)) hard.set(k, `${key} ${network.toString()} overlaps the route ${r.dst.toString()} dev ${dev}`);
      } else if (r.gateway && !leaseSubnets.some((s) => s.equals(r.dst)) && !(network.containsCidr(r.dst) && r.linkIndex === ifaceIndex)) {
        // A gateway route into the Network on flannel's interface is host-gw/DirectRouting's kind: dataplane.* judge it.
        soft.push(`${key} ${network.toString()} overlaps the route ${r.dst.toString()} via ${r.gateway.toString()} dev ${linkName(kernel, r.linkIndex)}`);
      }
    }
  }
  const fix = `choose a Network that no host network uses, in ${configWhere(f)} and kubeadm init --pod-network-cidr (e.g. 10.244.0.0/16 when the LAN is 192.168.x.x), or move the host network out of it`;
  if (hard.size > 0) return fail(id, [...hard.values(), ...soft].join('; '), fix);
  if (soft.length > 0) return warn(id, `${soft.join('; ')}: hosts there are unreachable from pods`, fix);
  const nets = families(config).map((fam) => networkOf(config, fam)?.toString()).join(', ');
  return ok(id, `${nets} overlaps no address or route of the host's own interfaces`);
}

function podCidr(f: NodeFacts): CheckResult {
  const id = 'config.pod-cidr';
  if (f.datastore.kind !== 'kube') return skip(id, 'etcd mode: node subnets come from etcd leases, not spec.podCIDR');
  const node = valueOf(f.datastore.node);
  if (!node) return skip(id, `node object unreadable (see datastore.reachable): ${errorOf(f.datastore.node) ?? 'not read'}`);
  const config = configOf(f);
  const network = config?.v4?.network ?? config?.v6?.network;
  const clusterCidr = network?.toString() ?? '10.244.0.0/16';
  if (node.podCidrs.length === 0) {
    return fail(
      id,
      `node ${node.name} has no spec.podCIDR`,
      `give the cluster a pod CIDR: kubeadm init --pod-network-cidr=${clusterCidr} (running cluster: kube-controller-manager --allocate-node-cidrs=true --cluster-cidr=${clusterCidr})`,
    );
  }
  const saw = `node ${node.name} spec.podCIDRs ${node.podCidrs.join(', ')}`;
  if (!config) return skip(id, `${saw}; network config unreadable, so not compared`);
  const outside: string[] = [];
  for (const text of node.podCidrs) {
    const c = Cidr.tryParse(text);
    const net = c ? networkOf(config, c.family) : undefined;
    if (!c || !net || !net.containsCidr(c)) outside.push(`${text} is outside ${net?.toString() ?? `the config's IPv${c?.family ?? 4} network`}`);
  }
  if (outside.length > 0) {
    return fail(id, `${saw}: ${outside.join('; ')}`, `make the Network in ${configWhere(f)} contain the cluster CIDR (kubeadm init --pod-network-cidr=${clusterCidr} must match it)`);
  }
  const env = subnetEnvOf(f);
  const v4 = node.podCidrs.map((t) => Cidr.tryParse(t)).find((c) => c?.family === 4);
  if (env?.subnet && v4 && !env.subnet.equals(v4)) {
    return warn(id, `${saw}, but subnet.env has ${env.subnet.toString()}`, 'restart flanneld: it takes the node\'s podCIDR and rewrites subnet.env (then re-create the pods of this node)');
  }
  return ok(id, `${saw}, inside ${families(config).map((fam) => networkOf(config, fam)?.toString()).join(', ')}`);
}

export const configChecks: CheckSpec[] = [
  { id: 'config.network-overlap', summary: "the Network does not overlap the host's own networks or routes (flannel devices, cni0 and bridges holding this node's own subnet aside)", run: overlap },
  { id: 'config.pod-cidr', summary: 'kube mode: the node has spec.podCIDR, inside the Network (skipped in etcd mode)', run: podCidr },
];
