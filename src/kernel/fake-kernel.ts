/**
 * @module kernel/fake-kernel
 * An in-memory Kernel for unit tests of backends and the daemon. It keeps the state the real
 * kernel would (links, addresses, main-table routes, neighbours, FDB), fails the way the real
 * kernel fails (same errno, same KernelError messages), emits notifications to subscribers, logs
 * every change in `ops`, and can be told to fail the next call of a method (`failNext`).
 *
 * Besides the capabilities it offers what tests need to look and to break things: listRoutes,
 * listNeighbors, listFdb (inspection) and setLinkDown (damage, as an operator would do by hand).
 *
 * Modelled kernel behaviour (checked against 6.18): a route through a down link fails with
 * ENETDOWN; a gateway must be reachable through a connected route unless `onlink`; taking a link
 * down drops its routes; connected routes come with addresses on up links; deleting a missing
 * route is ESRCH, a missing address EADDRNOTAVAIL, a missing neighbour or FDB entry ENOENT.
 */
import { KernelError } from '../errors/index.ts';
import { Cidr, IPAddress, type Family } from '../ip/index.ts';
import { addrDesc, fdbDesc, linkDesc, neighborDesc, routeDesc } from './describe.ts';
import { kernelError } from './errno.ts';
import type { Kernel, ListOptions, RouteListOptions } from './kernel.ts';
import { MAIN_TABLE } from './types.ts';
import type {
  Addr,
  AddrSpec,
  EventGroup,
  FdbEntry,
  FdbSpec,
  KernelEvent,
  Link,
  LinkRef,
  LinkSpec,
  Mac,
  Neighbor,
  NeighborSpec,
  Route,
  RouteLookup,
  RouteMatch,
  RouteSpec,
  VxlanSpec,
  WireguardLinkSpec,
  IpipLinkSpec,
} from './types.ts';
import { bytesToMac, normalizeMac, randomMac } from './mac.ts';

/** What failNext can make fail: every capability method, and the fake's own inspection helpers. */
export type KernelMethod = Exclude<keyof Kernel, 'subscribe' | 'close'> | 'listRoutes' | 'listNeighbors' | 'listFdb' | 'setLinkDown';

export interface FakeLinkSpec {
  name: string;
  kind?: string;
  mtu?: number;
  mac?: Mac;
  up?: boolean;
  addrs?: AddrSpec[];
}

const VXLAN_OVERHEAD = 50;
/** ETH_DATA_LEN − the outer IPv4 header: what the kernel gives an ipip device bound to no link. */
const IPIP_DEFAULT_MTU = 1480;
const RTPROT_KERNEL = 2;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;

interface Subscriber {
  groups: ReadonlySet<EventGroup>;
  onEvent: (event: KernelEvent) => void;
}

export class FakeKernel implements Kernel {
  /** Every successful change, e.g. "replaceRoute 10.244.2.0/24 via 10.244.2.0 dev 3 onlink". */
  readonly ops: string[] = [];
  private readonly links = new Map<number, Link>();
  private addrs: Addr[] = [];
  private routes: Route[] = [];
  private neighbors: Neighbor[] = [];
  private fdb: FdbEntry[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly failures: Array<{ method: KernelMethod; errno: string }> = [];
  private nextIndex = 1;
  private closed = false;

  constructor() {
    const lo = this.addLink({ name: 'lo', mtu: 65536, mac: '00:00:00:00:00:00', up: true });
    this.addrs.push({ linkIndex: lo.index, ip: IPAddress.parse('127.0.0.1'), prefix: 8, scope: RT_SCOPE_HOST });
    this.addrs.push({ linkIndex: lo.index, ip: IPAddress.parse('::1'), prefix: 128, scope: RT_SCOPE_HOST });
  }

  // ---- test helpers -------------------------------------------------------------------------

  /** Adds a link as if it pre-existed (e.g. the underlay "eth0"), with its addresses. */
  addLink(spec: FakeLinkSpec): Link {
    if (this.findLink(spec.name)) throw new Error(`FakeKernel: link ${spec.name} already exists`);
    const link: Link = { index: this.nextIndex++, name: spec.name, mtu: spec.mtu ?? 1500, mac: spec.mac ?? randomMac(), up: spec.up ?? true };
    if (spec.kind) link.kind = spec.kind;
    this.links.set(link.index, link);
    for (const a of spec.addrs ?? []) this.insertAddr(link, a);
    return cloneLink(link);
  }

  /** Tells subscribers notifications were lost, as the real kernel does when a buffer overflows. */
  simulateOverrun(): void {
    this.emit({ type: 'overrun' });
  }

  /** Makes the next call of `method` fail with `errno` (queued in order, one per call). */
  failNext(method: KernelMethod, errno: string): void {
    this.failures.push({ method, errno });
  }

  // ---- links --------------------------------------------------------------------------------

  async getLink(name: string): Promise<Link | undefined> {
    this.enter('getLink', 'get link', name);
    return copyLink(this.findLink(name));
  }

  async getLinkByIndex(index: number): Promise<Link | undefined> {
    this.enter('getLinkByIndex', 'get link', linkDesc(index));
    return copyLink(this.links.get(index));
  }

  async listLinks(options: ListOptions = {}): Promise<Link[]> {
    this.enter('listLinks', 'list', 'links');
    options.signal?.throwIfAborted();
    return [...this.links.values()].map(cloneLink);
  }

  async createLink(spec: LinkSpec): Promise<Link> {
    this.enter('createLink', 'create link', spec.name);
    if (this.findLink(spec.name)) throw kernelError('create link', spec.name, 'EEXIST');
    switch (spec.kind) {
      case 'vxlan':
        return this.newVxlan(spec);
      case 'wireguard':
        return this.newWireguard(spec);
      case 'ipip':
        return this.newIpip(spec);
    }
  }

  /** Like a kernel with the ipip module (one without is `failNext('createLink', 'EOPNOTSUPP')`). */
  private newIpip(spec: IpipLinkSpec): Link {
    if (spec.local && spec.local.family !== 4) throw kernelError('create link', spec.name, 'EINVAL');
    if (spec.mtu !== undefined && (spec.mtu < 68 || spec.mtu > 65535 - 20)) throw kernelError('create link', spec.name, 'EINVAL');
    // The device's link-layer address is its local IPv4 address (`link/ipip 192.0.2.1 brd 0.0.0.0`),
    // four bytes, as a dump reports it in IFLA_ADDRESS.
    const link: Link = {
      index: this.nextIndex++,
      name: spec.name,
      kind: 'ipip',
      mtu: spec.mtu ?? IPIP_DEFAULT_MTU,
      mac: bytesToMac(spec.local?.toBytes() ?? new Uint8Array(4)),
      up: false,
      ipip: { ...(spec.local ? { local: spec.local } : {}), ttl: 0, pmtudisc: false },
    };
    this.links.set(link.index, link);
    this.record(`createLink ipip ${spec.name}${spec.local ? ` local ${spec.local.toString()}` : ''}`);
    this.emitLink('new', link);
    return cloneLink(link);
  }

  private newWireguard(spec: WireguardLinkSpec): Link {
    if (spec.mtu !== undefined && (spec.mtu < 68 || spec.mtu > 65535)) throw kernelError('create link', spec.name, 'EINVAL');
    // A WireGuard device is layer 3: no hardware address.
    const link: Link = { index: this.nextIndex++, name: spec.name, kind: 'wireguard', mtu: spec.mtu ?? 1420, mac: '', up: false };
    this.links.set(link.index, link);
    this.record(`createLink wireguard ${spec.name}`);
    this.emitLink('new', link);
    return cloneLink(link);
  }

  private newVxlan(spec: VxlanSpec): Link {
    const lower = spec.linkIndex === undefined ? undefined : this.links.get(spec.linkIndex);
    if (spec.linkIndex !== undefined && !lower) throw kernelError('create link', spec.name, 'ENODEV');
    const maxMtu = lower ? lower.mtu - VXLAN_OVERHEAD : 65535;
    if (spec.mtu !== undefined && (spec.mtu < 68 || spec.mtu > maxMtu)) throw kernelError('create link', spec.name, 'EINVAL');
    const link: Link = {
      index: this.nextIndex++,
      name: spec.name,
      kind: 'vxlan',
      mtu: spec.mtu ?? (lower ? maxMtu : 1500),
      mac: spec.mac ? normalizeMac(spec.mac) : randomMac(),
      up: false,
      vxlan: {
        vni: spec.vni,
        ...(spec.local ? { local: spec.local } : {}),
        port: spec.port || 8472,
        learning: spec.learning,
        gbp: spec.gbp,
        ...(lower ? { link: lower.index } : {}),
      },
    };
    this.links.set(link.index, link);
    this.record(`createLink vxlan ${spec.name} vni ${spec.vni}`);
    this.emitLink('new', link);
    return cloneLink(link);
  }

  async deleteLink(ref: LinkRef): Promise<void> {
    const link = this.mustLink('deleteLink', 'delete link', ref);
    this.links.delete(link.index);
    // As measured on 6.18: neighbours, FDB entries and addresses go with notifications, IPv4
    // routes silently.
    const on = <T extends { linkIndex: number }>(xs: T[]): T[] => xs.filter((x) => x.linkIndex === link.index);
    on(this.neighbors).forEach((n) => this.emit({ type: 'neigh', action: 'del', neighbor: { ...n } }));
    on(this.fdb).forEach((e) => this.emit({ type: 'fdb', action: 'del', fdb: { ...e } }));
    on(this.addrs).forEach((a) => this.emit({ type: 'addr', action: 'del', addr: { ...a } }));
    const off = <T extends { linkIndex?: number }>(xs: T[]): T[] => xs.filter((x) => x.linkIndex !== link.index);
    this.addrs = off(this.addrs);
    this.routes = off(this.routes);
    this.neighbors = off(this.neighbors);
    this.fdb = off(this.fdb);
    this.record(`deleteLink ${link.name}`);
    this.emitLink('del', link);
  }

  async setLinkUp(ref: LinkRef): Promise<void> {
    const link = this.mustLink('setLinkUp', 'set link up', ref);
    this.record(`setLinkUp ${link.name}`);
    if (link.up) return;
    link.up = true;
    for (const a of this.addrs.filter((x) => x.linkIndex === link.index)) this.addConnectedRoute(a);
    this.emitLink('new', link);
  }

  /** Not a capability (flanneld never takes a device down): damage for repair tests. */
  async setLinkDown(ref: LinkRef): Promise<void> {
    const link = this.mustLink('setLinkDown', 'set link down', ref);
    this.record(`setLinkDown ${link.name}`);
    if (!link.up) return;
    link.up = false;
    // Like IPv4 on a real kernel: routes through a down device are flushed without notifications.
    this.routes = this.routes.filter((r) => r.linkIndex !== link.index);
    this.emitLink('new', link);
  }

  async setLinkMtu(ref: LinkRef, mtu: number): Promise<void> {
    const link = this.mustLink('setLinkMtu', 'set link mtu', ref, ` mtu ${mtu}`);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw kernelError('set link mtu', `${linkDesc(ref)} mtu ${mtu}`, 'EINVAL');
    link.mtu = mtu;
    this.record(`setLinkMtu ${link.name} ${mtu}`);
    this.emitLink('new', link);
  }

  async setLinkMac(ref: LinkRef, mac: Mac): Promise<void> {
    const link = this.mustLink('setLinkMac', 'set link address', ref, ` address ${mac}`);
    link.mac = normalizeMac(mac);
    this.record(`setLinkMac ${link.name} ${link.mac}`);
    this.emitLink('new', link);
  }

  // ---- addresses ----------------------------------------------------------------------------

  async listAddrs(linkIndex?: number, family?: Family, options: ListOptions = {}): Promise<Addr[]> {
    this.enter('listAddrs', 'list', 'addresses');
    options.signal?.throwIfAborted();
    return this.addrs.filter((a) => (linkIndex === undefined || a.linkIndex === linkIndex) && (!family || a.ip.family === family)).map((a) => ({ ...a }));
  }

  async addAddr(linkIndex: number, addr: AddrSpec): Promise<void> {
    this.enter('addAddr', 'add address', addrDesc(linkIndex, addr));
    const link = this.links.get(linkIndex);
    if (!link) throw kernelError('add address', addrDesc(linkIndex, addr), 'ENODEV');
    if (this.addrs.some((a) => a.linkIndex === linkIndex && a.ip.equals(addr.ip) && a.prefix === addr.prefix)) {
      throw kernelError('add address', addrDesc(linkIndex, addr), 'EEXIST');
    }
    this.record(`addAddr ${addrDesc(linkIndex, addr)}`);
    this.insertAddr(link, addr);
  }

  async delAddr(linkIndex: number, addr: AddrSpec): Promise<void> {
    this.enter('delAddr', 'delete address', addrDesc(linkIndex, addr));
    const found = this.addrs.find((a) => a.linkIndex === linkIndex && a.ip.equals(addr.ip) && a.prefix === addr.prefix);
    if (!found) throw kernelError('delete address', addrDesc(linkIndex, addr), 'EADDRNOTAVAIL');
    this.addrs = this.addrs.filter((a) => a !== found);
    const connected = Cidr.of(found.ip, found.prefix);
    this.routes = this.routes.filter((r) => !(r.protocol === RTPROT_KERNEL && r.linkIndex === linkIndex && r.dst.equals(connected)));
    this.record(`delAddr ${addrDesc(linkIndex, addr)}`);
    this.emit({ type: 'addr', action: 'del', addr: { ...found } });
  }

  // ---- routes -------------------------------------------------------------------------------

  /** Inspection for tests; code under test lists through scanRoutes (ops.listRoutes). */
  async listRoutes(family: Family, options: RouteListOptions = {}): Promise<Route[]> {
    this.enter('listRoutes', 'list', `IPv${family} routes`);
    options.signal?.throwIfAborted();
    const table = options.table ?? MAIN_TABLE;
    return this.routes
      .filter((r) => r.dst.family === family && r.table === table && (options.linkIndex === undefined || r.linkIndex === options.linkIndex))
      .map((r) => ({ ...r }));
  }

  async scanRoutes(family: Family, visit: (route: Route) => void, options: RouteListOptions = {}): Promise<void> {
    this.enter('scanRoutes', 'list', `IPv${family} routes`);
    for (const r of await this.listRoutes(family, options)) visit(r);
  }

  async replaceRoute(spec: RouteSpec): Promise<void> {
    const desc = routeDesc(spec);
    this.enter('replaceRoute', 'replace route', desc);
    const link = this.links.get(spec.linkIndex);
    if (!link) throw kernelError('replace route', desc, 'ENODEV');
    if (!link.up) throw kernelError('replace route', desc, 'ENETDOWN');
    if (spec.gateway && spec.gateway.family !== spec.dst.family) throw kernelError('replace route', desc, 'EINVAL');
    if (spec.gateway && !spec.onlink && !this.connectedOn(spec.linkIndex, spec.gateway)) throw kernelError('replace route', desc, 'ENETUNREACH');
    const route: Route = {
      dst: spec.dst,
      onlink: spec.onlink === true,
      table: spec.table ?? MAIN_TABLE,
      type: 'unicast',
      protocol: RTPROT_BOOT,
      scope: spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      linkIndex: spec.linkIndex,
    };
    // The kernel reports no metric for an IPv4 route with metric 0; IPv6 defaults to 1024.
    const metric = spec.metric ?? (spec.dst.family === 6 ? 1024 : 0);
    if (metric !== 0) route.metric = metric;
    if (spec.gateway) route.gateway = spec.gateway;
    if (spec.src) route.src = spec.src;
    const i = this.routes.findIndex((r) => r.table === route.table && r.dst.equals(route.dst) && (r.metric ?? 0) === metric);
    if (i >= 0) this.routes[i] = route;
    else this.routes.push(route);
    this.record(`replaceRoute ${desc}`);
    this.emit({ type: 'route', action: 'new', route: { ...route } });
  }

  async deleteRoute(match: RouteMatch): Promise<void> {
    const desc = routeDesc(match);
    this.enter('deleteRoute', 'delete route', desc);
    const table = match.table ?? MAIN_TABLE;
    const found = this.routes.find(
      (r) =>
        r.table === table &&
        r.dst.equals(match.dst) &&
        (!match.gateway || (r.gateway !== undefined && r.gateway.equals(match.gateway))) &&
        (match.linkIndex === undefined || r.linkIndex === match.linkIndex) &&
        (match.metric === undefined || (r.metric ?? 0) === match.metric),
    );
    if (!found) throw kernelError('delete route', desc, 'ESRCH');
    this.routes = this.routes.filter((r) => r !== found);
    this.record(`deleteRoute ${desc}`);
    this.emit({ type: 'route', action: 'del', route: { ...found } });
  }

  async routeGet(ip: IPAddress): Promise<RouteLookup> {
    this.enter('routeGet', 'get route to', ip.toString());
    const local = this.addrs.find((a) => a.ip.equals(ip));
    if (local) return { linkIndex: this.findLink('lo')?.index ?? local.linkIndex, src: ip };
    const best = this.routes
      .filter((r) => r.table === MAIN_TABLE && r.type === 'unicast' && r.linkIndex !== undefined && r.dst.contains(ip))
      .sort((a, b) => b.dst.prefix - a.dst.prefix || (a.metric ?? 0) - (b.metric ?? 0))[0];
    if (!best || best.linkIndex === undefined) throw kernelError('get route to', ip.toString(), 'ENETUNREACH');
    const src = best.src ?? this.addrs.find((a) => a.linkIndex === best.linkIndex && a.ip.family === ip.family && a.scope === RT_SCOPE_UNIVERSE)?.ip;
    return { linkIndex: best.linkIndex, ...(src ? { src } : {}), ...(best.gateway ? { gateway: best.gateway } : {}) };
  }

  // ---- neighbours ---------------------------------------------------------------------------

  /** Inspection for tests; code under test lists through scanNeighbors. */
  async listNeighbors(linkIndex: number, family: Family, options: ListOptions = {}): Promise<Neighbor[]> {
    this.enter('listNeighbors', 'list', `IPv${family} neighbours`);
    options.signal?.throwIfAborted();
    return this.neighbors.filter((n) => n.linkIndex === linkIndex && n.ip.family === family).map((n) => ({ ...n }));
  }

  async scanNeighbors(linkIndex: number, family: Family, visit: (neighbor: Neighbor) => void, options: ListOptions = {}): Promise<void> {
    this.enter('scanNeighbors', 'list', `IPv${family} neighbours`);
    for (const n of await this.listNeighbors(linkIndex, family, options)) visit(n);
  }

  async replaceNeighbor(spec: NeighborSpec): Promise<void> {
    const desc = neighborDesc(spec);
    this.enter('replaceNeighbor', 'replace neighbour', desc);
    if (!this.links.has(spec.linkIndex)) throw kernelError('replace neighbour', desc, 'ENODEV');
    const n: Neighbor = { linkIndex: spec.linkIndex, ip: spec.ip, mac: normalizeMac(spec.mac), state: spec.permanent === false ? 'reachable' : 'permanent' };
    const i = this.neighbors.findIndex((x) => x.linkIndex === n.linkIndex && x.ip.equals(n.ip));
    if (i >= 0) this.neighbors[i] = n;
    else this.neighbors.push(n);
    this.record(`replaceNeighbor ${desc}`);
    this.emit({ type: 'neigh', action: 'new', neighbor: { ...n } });
  }

  async deleteNeighbor(spec: { linkIndex: number; ip: IPAddress }): Promise<void> {
    const desc = neighborDesc(spec);
    this.enter('deleteNeighbor', 'delete neighbour', desc);
    const found = this.neighbors.find((x) => x.linkIndex === spec.linkIndex && x.ip.equals(spec.ip));
    if (!found) throw kernelError('delete neighbour', desc, 'ENOENT');
    this.neighbors = this.neighbors.filter((x) => x !== found);
    this.record(`deleteNeighbor ${desc}`);
    this.emit({ type: 'neigh', action: 'del', neighbor: { ...found } });
  }

  // ---- bridge FDB ---------------------------------------------------------------------------

  /** Inspection for tests; code under test lists through scanFdb. */
  async listFdb(linkIndex: number, options: ListOptions = {}): Promise<FdbEntry[]> {
    this.enter('listFdb', 'list', 'fdb');
    options.signal?.throwIfAborted();
    return this.fdb.filter((e) => e.linkIndex === linkIndex).map((e) => ({ ...e }));
  }

  async scanFdb(linkIndex: number, visit: (entry: FdbEntry) => void, options: ListOptions = {}): Promise<void> {
    this.enter('scanFdb', 'list', 'fdb');
    for (const e of await this.listFdb(linkIndex, options)) visit(e);
  }

  async appendFdb(spec: FdbSpec): Promise<void> {
    const desc = fdbDesc(spec);
    this.enter('appendFdb', 'append fdb', desc);
    if (!this.links.has(spec.linkIndex)) throw kernelError('append fdb', desc, 'ENODEV');
    const mac = normalizeMac(spec.mac);
    this.record(`appendFdb ${desc}`);
    if (this.fdbIndex(spec) >= 0) return; // appending an existing entry changes nothing
    const e: FdbEntry = { linkIndex: spec.linkIndex, mac, dst: spec.dst, self: true, permanent: true };
    this.fdb.push(e);
    this.emit({ type: 'fdb', action: 'new', fdb: { ...e } });
  }

  async deleteFdb(spec: FdbSpec): Promise<void> {
    const desc = fdbDesc(spec);
    this.enter('deleteFdb', 'delete fdb', desc);
    const i = this.fdbIndex(spec);
    if (i < 0) throw kernelError('delete fdb', desc, 'ENOENT');
    const [e] = this.fdb.splice(i, 1);
    this.record(`deleteFdb ${desc}`);
    if (e) this.emit({ type: 'fdb', action: 'del', fdb: { ...e } });
  }

  // ---- events -------------------------------------------------------------------------------

  subscribe(groups: readonly EventGroup[], signal: AbortSignal, onEvent: (event: KernelEvent) => void): void {
    if (signal.aborted) return;
    const sub: Subscriber = { groups: new Set(groups), onEvent };
    this.subscribers.add(sub);
    signal.addEventListener('abort', () => this.subscribers.delete(sub), { once: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }

  // ---- internals ----------------------------------------------------------------------------

  private enter(method: KernelMethod, op: string, object: string): void {
    if (this.closed) throw new KernelError('ECLOSED', `${op} ${object}: the kernel connection is closed`);
    const i = this.failures.findIndex((f) => f.method === method);
    if (i < 0) return;
    const [failure] = this.failures.splice(i, 1);
    if (failure) throw kernelError(op, object, failure.errno);
  }

  private record(op: string): void {
    this.ops.push(op);
  }

  private findLink(name: string): Link | undefined {
    for (const l of this.links.values()) if (l.name === name) return l;
    return undefined;
  }

  private mustLink(method: KernelMethod, op: string, ref: LinkRef, suffix = ''): Link {
    this.enter(method, op, linkDesc(ref) + suffix);
    const link = typeof ref === 'number' ? this.links.get(ref) : this.findLink(ref);
    if (!link) throw kernelError(op, linkDesc(ref) + suffix, 'ENODEV');
    return link;
  }

  private insertAddr(link: Link, spec: AddrSpec): void {
    const addr: Addr = { linkIndex: link.index, ip: spec.ip, prefix: spec.prefix, scope: spec.ip.isLinkLocalUnicast() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE };
    this.addrs.push(addr);
    if (link.up) this.addConnectedRoute(addr);
    this.emit({ type: 'addr', action: 'new', addr: { ...addr } });
  }

  private addConnectedRoute(a: Addr): void {
    if (a.prefix >= a.ip.bits || a.scope === RT_SCOPE_HOST) return;
    const dst = Cidr.of(a.ip, a.prefix);
    if (this.routes.some((r) => r.linkIndex === a.linkIndex && r.dst.equals(dst))) return;
    const metric = a.ip.family === 6 ? 256 : undefined;
    this.routes.push({
      dst,
      onlink: false,
      table: MAIN_TABLE,
      type: 'unicast',
      protocol: RTPROT_KERNEL,
      scope: RT_SCOPE_LINK,
      linkIndex: a.linkIndex,
      ...(a.ip.family === 4 ? { src: a.ip } : {}),
      ...(metric ? { metric } : {}),
    });
  }

  private connectedOn(linkIndex: number, gateway: IPAddress): boolean {
    return this.routes.some((r) => r.linkIndex === linkIndex && r.scope === RT_SCOPE_LINK && r.dst.contains(gateway));
  }

  private fdbIndex(spec: FdbSpec): number {
    const mac = normalizeMac(spec.mac);
    return this.fdb.findIndex((e) => e.linkIndex === spec.linkIndex && e.mac === mac && e.dst !== undefined && e.dst.equals(spec.dst));
  }

  private emitLink(action: 'new' | 'del', link: Link): void {
    this.emit({ type: 'link', action, link: cloneLink(link) });
  }

  /** Delivered asynchronously, like the real kernel's notifications. */
  private emit(event: KernelEvent): void {
    for (const sub of this.subscribers) {
      if (event.type !== 'overrun' && !sub.groups.has(event.type)) continue;
      queueMicrotask(() => {
        if (this.subscribers.has(sub)) sub.onEvent(event);
      });
    }
  }
}

function cloneLink(link: Link): Link {
  return { ...link, ...(link.vxlan ? { vxlan: { ...link.vxlan } } : {}), ...(link.ipip ? { ipip: { ...link.ipip } } : {}) };
}

function copyLink(link: Link | undefined): Link | undefined {
  return link && cloneLink(link);
}
