/**
 * @module subnet/kube/node-lease
 * A Node as a lease: its subnet(s) from spec.podCIDRs (at most one per family; else podCIDR),
 * its public address and backend data from upstream's annotations. A node is a peer only when
 * it carries `<prefix>/kube-subnet-manager: "true"` and everything the enabled families need.
 */
import { Cidr, IPAddress, type Family } from '../../ip/index.ts';
import type { Lease, LeaseAttrs, LeaseDraft } from '../../lease/index.ts';
import type { NodeView } from './api.ts';
import { decodeBackendData, type AnnotationNames } from './annotations.ts';

/** Kubernetes leases do not expire: the node object lives as long as the node. */
export const NEVER = new Date('9999-12-31T23:59:59.000Z');

export interface PodCidrs {
  v4?: Cidr;
  v6?: Cidr;
}

/** Splits a node's podCIDRs by family, or says what is wrong with them. */
export function podCidrsOf(node: NodeView): { cidrs: PodCidrs } | { problem: string } {
  if (node.podCIDRs.length > 2) {
    return { problem: `has ${node.podCIDRs.length} podCIDRs (${node.podCIDRs.join(', ')}); flannel supports one per IP family (IPv4, IPv6 or dual stack)` };
  }
  const cidrs: PodCidrs = {};
  for (const text of node.podCIDRs) {
    const cidr = Cidr.tryParse(text);
    if (!cidr) return { problem: `has an invalid podCIDR "${text}"` };
    const key = cidr.family === 4 ? 'v4' : 'v6';
    if (cidrs[key]) return { problem: `has two IPv${cidr.family} podCIDRs (${node.podCIDRs.join(', ')})` };
    cidrs[key] = cidr;
  }
  return { cidrs };
}

export interface Families {
  readonly v4: boolean;
  readonly v6: boolean;
}

function ipOf(text: string | undefined, family: Family): IPAddress | undefined {
  const ip = text === undefined ? undefined : IPAddress.tryParse(text.trim());
  return ip && ip.family === family ? ip : undefined;
}

/** The node as a peer lease, or why it is not one (undefined problem: not a flannel node at all). */
export function nodeToLease(node: NodeView, names: AnnotationNames, families: Families): { lease: Lease } | { problem?: string } {
  const a = node.annotations;
  if (a[names.kubeSubnetManager] !== 'true') return {};
  const backendType = a[names.backendType];
  // Present but empty is a real type: upstream's udp backend leases without one.
  if (backendType === undefined) return { problem: `has no ${names.backendType} annotation yet` };
  const split = podCidrsOf(node);
  if ('problem' in split) return { problem: split.problem };
  const { cidrs } = split;
  const attrs: LeaseDraft<LeaseAttrs> = { backendType };
  const lease: LeaseDraft<Lease> = { attrs, expiration: NEVER, revision: node.resourceVersion };
  if (families.v4) {
    if (!cidrs.v4) return { problem: 'has no IPv4 podCIDR yet' };
    const publicIP = ipOf(a[names.publicIP], 4);
    if (!publicIP) return { problem: `has no IPv4 address in ${names.publicIP} (${JSON.stringify(a[names.publicIP] ?? null)})` };
    const data = decodeBackendData(a[names.backendData]);
    if ('problem' in data) return { problem: `${names.backendData} is ${data.problem}` };
    attrs.publicIP = publicIP;
    if (data.value !== undefined && data.value !== null) attrs.backendData = data.value;
    lease.subnet = cidrs.v4;
  }
  if (families.v6) {
    if (!cidrs.v6) return { problem: 'has no IPv6 podCIDR yet' };
    const publicIPv6 = ipOf(a[names.publicIPv6], 6);
    if (!publicIPv6) return { problem: `has no IPv6 address in ${names.publicIPv6} (${JSON.stringify(a[names.publicIPv6] ?? null)})` };
    const data = decodeBackendData(a[names.backendV6Data]);
    if ('problem' in data) return { problem: `${names.backendV6Data} is ${data.problem}` };
    attrs.publicIPv6 = publicIPv6;
    if (data.value !== undefined && data.value !== null) attrs.backendV6Data = data.value;
    lease.ipv6Subnet = cidrs.v6;
  }
  return { lease };
}
