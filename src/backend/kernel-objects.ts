/**
 * @module backend/kernel-objects
 * The per-peer kernel state a backend wants (routes, neighbours, FDB entries) as plain values
 * with an identity key, so desired and present state can be diffed and applied generically.
 */
import type { IPAddress } from '../ip/index.ts';
import { isKernelErrno, MAIN_TABLE, type FdbEntry, type FdbSpec, type Fdb, type Neighbors, type Routes, type Neighbor, type NeighborSpec, type Route, type RouteSpec } from '../kernel/index.ts';

/** The capabilities per-peer objects are programmed through. */
export type PeerKernel = Routes & Neighbors & Fdb;

/** What a backend wants in the kernel. */
export type Desired = { readonly kind: 'route'; readonly route: RouteSpec } | { readonly kind: 'neigh'; readonly neighbor: NeighborSpec } | { readonly kind: 'fdb'; readonly fdb: FdbSpec };

/** What a listing or a notification shows is in the kernel. */
export type Present = { readonly kind: 'route'; readonly route: Route } | { readonly kind: 'neigh'; readonly neighbor: Neighbor } | { readonly kind: 'fdb'; readonly fdb: FdbEntry };

export type ObjectKind = Desired['kind'];

/** Names links in log lines ("flannel.1" rather than "dev 7"). */
export type LinkNamer = (index: number) => string;

// The kernel reports no metric for an IPv4 route added without one; IPv6 defaults to 1024.
function routeMetric(dstFamily: 4 | 6, metric: number | undefined): number {
  return metric ?? (dstFamily === 6 ? 1024 : 0);
}

function routeKey(r: { dst: RouteSpec['dst']; table?: number; metric?: number }): string {
  return `route ${r.table ?? MAIN_TABLE} ${r.dst.toString()} ${routeMetric(r.dst.family, r.metric)}`;
}

/**
 * A template literal is a tree of cons strings (a heap object per piece, ~3x the text); keys live
 * as long as their peers, thousands of them, so they are flattened: V8 flattens a string in place
 * on charCodeAt and the GC then drops the tree.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * Identity in the kernel: two objects with one key cannot coexist (replacing one overwrites the
 * other). FDB entries are appended, so the remote is part of their identity.
 */
export function keyOf(o: Desired | Present): string {
  switch (o.kind) {
    case 'route':
      return flat(routeKey(o.route));
    case 'neigh':
      return flat(`neigh ${o.neighbor.linkIndex} ${o.neighbor.ip.toString()}`);
    case 'fdb':
      return flat(`fdb ${o.fdb.linkIndex} ${o.fdb.mac} ${o.fdb.dst?.toString() ?? '-'}`);
  }
}

function sameIp(a: IPAddress | undefined, b: IPAddress | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b);
}

/** True when `present` (same key) already is what `desired` asks for. */
export function satisfies(desired: Desired, present: Present): boolean {
  if (desired.kind === 'route' && present.kind === 'route') {
    const d = desired.route;
    const p = present.route;
    return (
      p.type === 'unicast' &&
      p.linkIndex === d.linkIndex &&
      sameIp(d.gateway, p.gateway) &&
      (d.onlink === true) === p.onlink &&
      (d.src === undefined || sameIp(d.src, p.src))
    );
  }
  if (desired.kind === 'neigh' && present.kind === 'neigh') {
    const wantState = desired.neighbor.permanent === false ? 'reachable' : 'permanent';
    return present.neighbor.mac === desired.neighbor.mac && present.neighbor.state === wantState;
  }
  if (desired.kind === 'fdb' && present.kind === 'fdb') return present.fdb.permanent && present.fdb.self;
  return false;
}

/** Two desired values that would program the kernel identically. */
export function sameDesired(a: Desired, b: Desired): boolean {
  if (keyOf(a) !== keyOf(b)) return false;
  switch (a.kind) {
    case 'route': {
      const r = (b as typeof a).route;
      return a.route.linkIndex === r.linkIndex && sameIp(a.route.gateway, r.gateway) && (a.route.onlink === true) === (r.onlink === true) && sameIp(a.route.src, r.src);
    }
    case 'neigh': {
      const n = (b as typeof a).neighbor;
      return a.neighbor.mac === n.mac && (a.neighbor.permanent !== false) === (n.permanent !== false);
    }
    case 'fdb':
      return true;
  }
}

/** Installs with replace semantics (FDB: append, which is a no-op when the entry exists). */
export function applyDesired(kernel: PeerKernel, o: Desired): Promise<void> {
  switch (o.kind) {
    case 'route':
      return kernel.replaceRoute(o.route);
    case 'neigh':
      return kernel.replaceNeighbor(o.neighbor);
    case 'fdb':
      return kernel.appendFdb(o.fdb);
  }
}

/** Deletes; an object already gone counts as deleted. */
export async function removeObject(kernel: PeerKernel, o: Desired | Present): Promise<void> {
  try {
    switch (o.kind) {
      case 'route': {
        const r = o.route;
        await kernel.deleteRoute({
          dst: r.dst,
          ...(r.table !== undefined ? { table: r.table } : {}),
          ...(r.gateway ? { gateway: r.gateway } : {}),
          ...(r.linkIndex !== undefined ? { linkIndex: r.linkIndex } : {}),
          ...(r.metric !== undefined ? { metric: r.metric } : {}),
        });
        return;
      }
      case 'neigh':
        await kernel.deleteNeighbor({ linkIndex: o.neighbor.linkIndex, ip: o.neighbor.ip });
        return;
      case 'fdb':
        if (!o.fdb.dst) return;
        await kernel.deleteFdb({ linkIndex: o.fdb.linkIndex, mac: o.fdb.mac, dst: o.fdb.dst });
        return;
    }
  } catch (err) {
    if (isKernelErrno(err, 'ESRCH', 'ENOENT', 'ENODEV')) return;
    throw err;
  }
}

/** `ip`-like wording for logs: "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink". */
export function describeObject(o: Desired | Present, name: LinkNamer): string {
  switch (o.kind) {
    case 'route': {
      const r = o.route;
      let s = `route ${r.dst.toString()}`;
      if (r.gateway) s += ` via ${r.gateway.toString()}`;
      if (r.linkIndex !== undefined) s += ` dev ${name(r.linkIndex)}`;
      if (r.onlink) s += ' onlink';
      if (r.table !== undefined && r.table !== MAIN_TABLE) s += ` table ${r.table}`;
      return s;
    }
    case 'neigh':
      return `neigh ${o.neighbor.ip.toString()}${o.neighbor.mac ? ` lladdr ${o.neighbor.mac}` : ''} dev ${name(o.neighbor.linkIndex)}`;
    case 'fdb':
      return `fdb ${o.fdb.mac}${o.fdb.dst ? ` dst ${o.fdb.dst.toString()}` : ''} dev ${name(o.fdb.linkIndex)}`;
  }
}

/**
 * Kernel order matters within one pipelined pass: neighbour and FDB entries go in before the
 * route that uses them (else the kernel may resolve the gateway itself first), and routes go out
 * before the entries they point at.
 */
export function applyRank(o: Desired): number {
  return o.kind === 'route' ? 1 : 0;
}

export function removeRank(o: Desired | Present): number {
  return o.kind === 'route' ? 0 : 1;
}
