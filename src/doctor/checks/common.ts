/**
 * @module doctor/checks/common
 * What several checks need: reading a `Read<T>`, finding links and routes in the kernel facts,
 * telling this node's lease from its peers', and short text forms for `saw`.
 */
import type { NetworkConfig } from '../../config/index.ts';
import { Cidr, type Family, type IPAddress } from '../../ip/index.ts';
import { MAIN_TABLE, type Link, type Route } from '../../kernel/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { SubnetEnv } from '../../subnetenv/index.ts';
import type { KernelFacts, NodeFacts, Read } from '../facts.ts';

export function valueOf<T>(r: Read<T> | undefined): T | undefined {
  return r !== undefined && 'value' in r ? r.value : undefined;
}

export function errorOf<T>(r: Read<T> | undefined): string | undefined {
  return r !== undefined && 'error' in r ? r.error : undefined;
}

export const RTPROT_KERNEL = 2;
const RT_SCOPE_LINK = 253;

/** flannel's devices (flannel.1, flannel-v6.1, flannel-wg, flannel.ipip, flannel0) and the CNI bridge carry pod subnets, not host networks. */
export function isPodDevice(name: string): boolean {
  return name.startsWith('flannel') || name === 'cni0';
}

export function linkByName(k: KernelFacts, name: string): Link | undefined {
  return k.links.find((l) => l.name === name);
}

export function linkName(k: KernelFacts, index: number | undefined): string {
  if (index === undefined) return '(no device)';
  return k.links.find((l) => l.index === index)?.name ?? `ifindex ${index}`;
}

export function mainRoutes(k: KernelFacts, family?: Family): Route[] {
  return k.routes.filter((r) => r.table === MAIN_TABLE && (family === undefined || r.dst.family === family));
}

/** The main-table route the kernel would pick for `ip` (longest prefix, then lowest metric); policy rules are not modelled. */
export function lookupRoute(k: KernelFacts, ip: IPAddress): Route | undefined {
  let best: Route | undefined;
  for (const r of mainRoutes(k, ip.family)) {
    if (!r.dst.contains(ip) || r.type === 'local' || r.type === 'broadcast' || r.type === 'multicast') continue;
    if (!best || r.dst.prefix > best.dst.prefix || (r.dst.prefix === best.dst.prefix && (r.metric ?? 0) < (best.metric ?? 0))) best = r;
  }
  return best;
}

/** The prefixes a link reaches without a router: its global addresses' networks and its link-scope routes (as backend/on-link.ts). */
export function onLinkPrefixes(k: KernelFacts, linkIndex: number, family: Family): Cidr[] {
  const out: Cidr[] = [];
  for (const a of k.addrs) {
    if (a.linkIndex === linkIndex && a.ip.family === family && a.scope < RT_SCOPE_LINK && a.prefix < a.ip.bits) {
      const c = cidrOf(a.ip, a.prefix);
      if (!out.some((x) => x.equals(c))) out.push(c);
    }
  }
  for (const r of mainRoutes(k, family)) {
    if (r.linkIndex === linkIndex && r.type === 'unicast' && !r.gateway && r.scope === RT_SCOPE_LINK && r.dst.prefix > 0 && !out.some((x) => x.equals(r.dst))) out.push(r.dst);
  }
  return out;
}

export function cidrOf(ip: IPAddress, prefix: number): Cidr {
  return Cidr.of(ip, prefix);
}

export function describeRoute(k: KernelFacts, r: Route): string {
  return `${r.dst.toString()}${r.gateway ? ` via ${r.gateway.toString()}` : ''} dev ${linkName(k, r.linkIndex)}${r.onlink ? ' onlink' : ''}${r.type !== 'unicast' ? ` (${r.type})` : ''}`;
}

/** The network config, or undefined when it could not be read. */
export function configOf(f: NodeFacts): NetworkConfig | undefined {
  return valueOf(f.datastore.config);
}

export function subnetEnvOf(f: NodeFacts): SubnetEnv | undefined {
  return valueOf<SubnetEnv>(f.subnetEnv);
}

export function subnetOf(l: Lease, family: Family): Cidr | undefined {
  return family === 4 ? l.subnet : l.ipv6Subnet;
}

export function publicIPOf(l: Lease, family: Family): IPAddress | undefined {
  return family === 4 ? l.attrs.publicIP : l.attrs.publicIPv6;
}

/**
 * This node's lease: the one whose subnet is subnet.env's (either family); without a readable
 * subnet.env, the one whose PublicIP is the chosen interface's address.
 */
export function ownLease(f: NodeFacts): Lease | undefined {
  const leases = valueOf(f.datastore.leases);
  if (!leases) return undefined;
  const env = subnetEnvOf(f);
  if (env) {
    return leases.find((l) => (env.subnet && l.subnet?.equals(env.subnet)) || (env.ipv6Subnet && l.ipv6Subnet?.equals(env.ipv6Subnet)));
  }
  const addr = valueOf(f.iface)?.address;
  return addr === undefined ? undefined : leases.find((l) => l.attrs.publicIP?.toString() === addr || l.attrs.publicIPv6?.toString() === addr);
}

/** Every lease but this node's (undefined when the leases could not be read). */
export function peerLeases(f: NodeFacts): Lease[] | undefined {
  const leases = valueOf(f.datastore.leases);
  if (!leases) return undefined;
  const own = ownLease(f);
  return leases.filter((l) => l !== own);
}

export function families(config: NetworkConfig): Family[] {
  return [...(config.enableIPv4 && config.v4 ? [4 as const] : []), ...(config.enableIPv6 && config.v6 ? [6 as const] : [])];
}

export function networkOf(config: NetworkConfig, family: Family): Cidr | undefined {
  return family === 4 ? config.v4?.network : config.v6?.network;
}

/** "a, b, c" with at most `max` items and "(+N more)". */
export function listSome(items: readonly string[], max = 4, sep = '; '): string {
  if (items.length <= max) return items.join(sep);
  return `${items.slice(0, max).join(sep)}${sep}(+${items.length - max} more)`;
}

/** The command that restarts flanneld where it runs: the DaemonSet pod in kube mode, the service in etcd mode. */
export function restartFlanneld(f: NodeFacts): string {
  return f.options.subnetManager === 'kube'
    ? `restart flanneld (kubectl -n kube-flannel delete pod --field-selector spec.nodeName=${f.hostname} -l app=flannel)`
    : 'restart flanneld (systemctl restart flanneld, or start it again with the same flags)';
}

/** Where the network config is changed, for fixes naming a key. */
export function configWhere(f: NodeFacts): string {
  return f.options.subnetManager === 'kube'
    ? `net-conf.json (ConfigMap kube-flannel-cfg, ${f.options.kube.netConfigPath} in the pod)`
    : `the etcd key ${f.options.etcd.prefix}/config`;
}
