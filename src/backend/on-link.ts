/**
 * @module backend/on-link
 * Which addresses the external interface reaches without a router: host-gw needs every peer
 * there, and vxlan's DirectRouting skips the tunnel for peers there.
 */
import { Cidr, type Family, type IPAddress } from '../ip/index.ts';
import type { Addresses, Routes } from '../kernel/index.ts';

const RT_SCOPE_LINK = 253;

/** The prefixes of the link's global addresses and its other link-scope routes (e.g. `ip route add 192.0.2.0/24 dev eth0`). */
export async function onLinkPrefixes(kernel: Addresses & Routes, linkIndex: number, family: Family): Promise<Cidr[]> {
  const out: Cidr[] = [];
  const add = (c: Cidr): void => {
    if (!out.some((x) => x.equals(c))) out.push(c);
  };
  const linkRoutes: Cidr[] = [];
  // Scanned, not listed: with host-gw every peer's route is on this link too.
  const [addrs] = await Promise.all([
    kernel.listAddrs(linkIndex, family),
    kernel.scanRoutes(
      family,
      (r) => {
        // A link-scope default route would make every address look on-link; that is never what is meant here.
        if (r.type === 'unicast' && !r.gateway && r.scope === RT_SCOPE_LINK && r.dst.prefix > 0) linkRoutes.push(r.dst);
      },
      { linkIndex },
    ),
  ]);
  for (const a of addrs) if (a.scope < RT_SCOPE_LINK && a.prefix < a.ip.bits) add(Cidr.of(a.ip, a.prefix));
  for (const c of linkRoutes) add(c);
  return out;
}

export function isOnLink(prefixes: readonly Cidr[], ip: IPAddress): boolean {
  return prefixes.some((p) => p.contains(ip));
}
