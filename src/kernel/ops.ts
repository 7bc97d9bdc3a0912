/**
 * @module kernel/ops
 * Operations built from the kernel capabilities, the same over NetlinkKernel and FakeKernel.
 */
import type { Family } from '../ip/index.ts';
import type { Addresses, Fdb, Links, ListOptions, Neighbors, RouteListOptions, Routes } from './kernel.ts';
import type { AddrChanges, AddrSpec, FdbEntry, Link, Neighbor, Route } from './types.ts';

const RT_SCOPE_LINK = 253;

export async function listRoutes(kernel: Routes, family: Family, options: RouteListOptions = {}): Promise<Route[]> {
  const out: Route[] = [];
  await kernel.scanRoutes(family, (r) => out.push(r), options);
  return out;
}

export async function listNeighbors(kernel: Neighbors, linkIndex: number, family: Family, options: ListOptions = {}): Promise<Neighbor[]> {
  const out: Neighbor[] = [];
  await kernel.scanNeighbors(linkIndex, family, (n) => out.push(n), options);
  return out;
}

export async function listFdb(kernel: Fdb, linkIndex: number, options: ListOptions = {}): Promise<FdbEntry[]> {
  const out: FdbEntry[] = [];
  await kernel.scanFdb(linkIndex, (e) => out.push(e), options);
  return out;
}

/** Makes `wanted` the link's only global-scope addresses of `family` (link-local ones are left alone). */
export async function replaceAddrs(kernel: Addresses, linkIndex: number, family: Family, wanted: readonly AddrSpec[]): Promise<AddrChanges> {
  const current = (await kernel.listAddrs(linkIndex, family)).filter((a) => a.scope < RT_SCOPE_LINK);
  const same = (a: AddrSpec, b: AddrSpec): boolean => a.ip.equals(b.ip) && a.prefix === b.prefix;
  const removed = current.filter((c) => !wanted.some((w) => same(w, c))).map(({ ip, prefix }) => ({ ip, prefix }));
  const added = wanted.filter((w) => !current.some((c) => same(w, c)));
  await Promise.all(removed.map((a) => kernel.delAddr(linkIndex, a)));
  await Promise.all(added.map((a) => kernel.addAddr(linkIndex, a)));
  return { added: [...added], removed };
}

/** The device of the main table's default route with the lowest metric, as flannel picks --iface. */
export async function defaultRouteLink(kernel: Routes & Links, family: Family): Promise<Link | undefined> {
  const index = pickDefaultRoute(await listRoutes(kernel, family))?.linkIndex;
  return index === undefined ? undefined : kernel.getLinkByIndex(index);
}

export function pickDefaultRoute(routes: readonly Route[]): Route | undefined {
  return routes
    .filter((r) => r.dst.prefix === 0 && r.type === 'unicast' && r.linkIndex !== undefined)
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
}
