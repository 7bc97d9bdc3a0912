/**
 * @module backend/on-link
 * Which addresses the external interface reaches without a router: host-gw needs every peer
 * there, and vxlan's DirectRouting skips the tunnel for peers there.
 */
import { Cidr, type Family, type IPAddress } from '../ip/index.ts';
import type { Kernel } from '../kernel/index.ts';

const RT_SCOPE_LINK = 253;

/** The prefixes of the link's global addresses and its other link-scope routes (e.g. `ip route add 192.0.2.0/24 dev eth0`). */
export async function onLinkPrefixes(kernel: Kernel, linkIndex: number, family: Family): Promise<Cidr[]> {
  const [addrs, routes] = await Promise.all([kernel.listAddrs(linkIndex, family), kernel.listRoutes(family, { linkIndex })]);
  const out: Cidr[] = [];
  const add = (c: Cidr): void => {
    if (!out.some((x) => x.equals(c))) out.push(c);
  };
  for (const a of addrs) if (a.scope < RT_SCOPE_LINK && a.prefix < a.ip.bits) add(Cidr.of(a.ip, a.prefix));
  // A link-scope default route would make every address look on-link; that is never what is meant here.
  for (const r of routes) if (r.type === 'unicast' && !r.gateway && r.scope === RT_SCOPE_LINK && r.dst.prefix > 0) add(r.dst);
  return out;
}

export function isOnLink(prefixes: readonly Cidr[], ip: IPAddress): boolean {
  return prefixes.some((p) => p.contains(ip));
}
