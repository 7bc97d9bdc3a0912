/**
 * @module kernel/derived-ops
 * Kernel operations built from the primitive ones, shared by NetlinkKernel and FakeKernel.
 */
import type { Family } from '../ip/index.ts';
import type { AddrChanges, AddrSpec, Kernel, Link, Route } from './kernel.ts';

const RT_SCOPE_LINK = 253;

export async function replaceAddrs(kernel: Kernel, linkIndex: number, family: Family, wanted: readonly AddrSpec[]): Promise<AddrChanges> {
  const current = (await kernel.listAddrs(linkIndex, family)).filter((a) => a.scope < RT_SCOPE_LINK);
  const same = (a: AddrSpec, b: AddrSpec): boolean => a.ip.equals(b.ip) && a.prefix === b.prefix;
  const removed = current.filter((c) => !wanted.some((w) => same(w, c))).map(({ ip, prefix }) => ({ ip, prefix }));
  const added = wanted.filter((w) => !current.some((c) => same(w, c)));
  await Promise.all(removed.map((a) => kernel.delAddr(linkIndex, a)));
  await Promise.all(added.map((a) => kernel.addAddr(linkIndex, a)));
  return { added: [...added], removed };
}

/** The main table's default route with the lowest metric, and its device. */
export async function defaultRouteLink(kernel: Kernel, family: Family): Promise<Link | undefined> {
  const index = pickDefaultRoute(await kernel.listRoutes(family))?.linkIndex;
  return index === undefined ? undefined : kernel.getLinkByIndex(index);
}

export function pickDefaultRoute(routes: readonly Route[]): Route | undefined {
  return routes
    .filter((r) => r.dst.prefix === 0 && r.type === 'unicast' && r.linkIndex !== undefined)
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
}
