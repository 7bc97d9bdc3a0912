/**
 * @module lab/ui/links
 * How one node reaches another node's pod subnet, decided from the first node's routing table
 * (and, for WireGuard, from which peer's allowed-ips hold the subnet). Pure: the kernel's answers
 * come in as `ip -j route` objects and `wg show ... allowed-ips` text.
 */
import { Cidr } from '../../ip/index.ts';
import type { SnapshotLink } from './snapshot-types.ts';

/** A route as `ip -j route show` prints it (the fields this module reads). */
export interface JsonRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly flags?: readonly string[];
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
}

/** The devices flanneld sends overlay traffic into, by backend. */
export const OVERLAY_DEVICES: readonly string[] = ['flannel.1', 'flannel-wg', 'flannel0', 'flannel.ipip'];

/** The route as `ip route` prints it, from its JSON form. */
export function routeText(r: JsonRoute): string {
  return [
    r.dst,
    ...(r.gateway ? ['via', r.gateway] : []),
    ...(r.dev ? ['dev', r.dev] : []),
    ...(r.protocol ? ['proto', r.protocol] : []),
    ...(r.scope ? ['scope', r.scope] : []),
    ...(r.prefsrc ? ['src', r.prefsrc] : []),
    ...(r.flags ?? []),
  ].join(' ');
}

function routeCidr(r: JsonRoute): Cidr | undefined {
  if (r.dst === 'default') return Cidr.parse('0.0.0.0/0');
  try {
    return Cidr.parse(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  } catch {
    return undefined;
  }
}

/** The most specific IPv4 route holding all of `subnet` (what the kernel picks for its addresses). */
export function bestRoute(routes: readonly JsonRoute[], subnet: Cidr): JsonRoute | undefined {
  let best: { route: JsonRoute; prefix: number } | undefined;
  for (const route of routes) {
    const c = routeCidr(route);
    if (!c || c.ip.family !== subnet.ip.family || !c.containsCidr(subnet)) continue;
    if (!best || c.prefix > best.prefix) best = { route, prefix: c.prefix };
  }
  return best?.route;
}

/** `wg show <dev> allowed-ips`: public key, tab, space-separated CIDRs, per line. */
export function parseAllowedIps(text: string): Array<{ key: string; allowed: Cidr[] }> {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [key = '', ...rest] = l.split(/\s+/);
      const allowed = rest.flatMap((c) => {
        try {
          return [Cidr.parse(c)];
        } catch {
          return [];
        }
      });
      return { key, allowed };
    });
}

export interface LinkInput {
  readonly from: string;
  readonly to: string;
  /** The peer's pod subnet (its FLANNEL_SUBNET's network). */
  readonly subnet: Cidr;
  readonly peerUnderlayIP: string;
  readonly routes: readonly JsonRoute[];
  /** For WireGuard: the peers of flannel-wg with their allowed-ips. */
  readonly wireguardPeers?: ReadonlyArray<{ key: string; allowed: Cidr[] }>;
}

export function decideLink(i: LinkInput): SnapshotLink {
  const route = bestRoute(i.routes, i.subnet);
  const base = { from: i.from, to: i.to, route: route ? routeText(route) : '' };
  if (!route || route.dst === 'default') return { ...base, kind: 'missing' };
  if (route.gateway === i.peerUnderlayIP) return { ...base, kind: 'route' };
  if (route.dev && OVERLAY_DEVICES.includes(route.dev)) {
    if (route.dev !== 'flannel-wg') return { ...base, kind: 'tunnel' };
    const peer = i.wireguardPeers?.find((p) => p.allowed.some((a) => a.containsCidr(i.subnet)));
    return peer ? { ...base, kind: 'tunnel', peer: `peer ${peer.key} allowed ips ${peer.allowed.map(String).join(', ')}` } : { ...base, kind: 'missing' };
  }
  return { ...base, kind: 'missing' };
}
