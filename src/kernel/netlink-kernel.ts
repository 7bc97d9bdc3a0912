/**
 * @module kernel/netlink-kernel
 * The Kernel over rtnetlink, with the `netlink` package (the only module that imports it, with
 * its siblings netlink-*.ts). Acts on the network namespace the process runs in.
 */
import { FlagsNew, rt, type AttrStream, type ifla } from 'netlink';
import { KernelError } from '../errors/index.ts';
import type { Family, IPAddress } from '../ip/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { addrDesc, fdbDesc, linkDesc, neighborDesc, routeDesc } from './describe.ts';
import { isKernelErrno } from './errno.ts';
import type { Kernel, ListOptions, RouteListOptions } from './kernel.ts';
import { MAIN_TABLE } from './types.ts';
import type { Addr, AddrSpec, EventGroup, FdbEntry, FdbSpec, KernelEvent, Link, LinkRef, LinkSpec, Mac, Neighbor, NeighborSpec, Route, RouteLookup, RouteMatch, RouteSpec } from './types.ts';
import { macToBytes } from './mac.ts';
import {
  AF_BRIDGE,
  AF_UNSPEC,
  RT_TABLE_COMPAT,
  afOf,
  decodeAddr,
  decodeLink,
  encodeLinkinfo,
  ipFromBytes,
} from './netlink-codec.ts';
import { subscribeNetlink } from './netlink-events.ts';
import { encodeFdbAppend, encodeNeighborReplace, encodeRouteReplace } from './netlink-encode.ts';
import { decodeFdbAt, decodeNeighborAt, decodeRouteAt } from './netlink-raw.ts';
import { RtTransport, type TransportOptions } from './netlink-transport.ts';

const T = rt.MessageType;
const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
const CREATE_APPEND = FlagsNew.CREATE | FlagsNew.APPEND;
// Family headers of dump requests: ifinfomsg, ifaddrmsg, rtmsg, ndmsg.
const IFINFOMSG_BYTES = 16;
const IFADDRMSG_BYTES = 8;
const RTMSG_BYTES = 12;
const NDMSG_BYTES = 12;

export interface NetlinkKernelOptions extends TransportOptions {
  /**
   * SO_RCVBUF of notification sockets (default 8 MiB; the kernel caps it at net.core.rmem_max).
   * Overflowing it aborts the process (a netlink 0.3.0 bug), so keep it large.
   */
  eventRecvBufferSize?: number;
}

export function createNetlinkKernel(options: NetlinkKernelOptions = {}): NetlinkKernel {
  return new NetlinkKernel(options);
}

export class NetlinkKernel implements Kernel {
  private readonly io: RtTransport;
  private readonly logger: Logger;
  private readonly eventRecvBufferSize: number | undefined;
  private readonly subscriptions = new Set<() => void>();

  constructor(options: NetlinkKernelOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.eventRecvBufferSize = options.eventRecvBufferSize;
    this.io = new RtTransport(options);
  }

  // ---- links --------------------------------------------------------------------------------

  async getLink(name: string): Promise<Link | undefined> {
    return this.fetchLink(name);
  }

  async getLinkByIndex(index: number): Promise<Link | undefined> {
    return this.fetchLink(index);
  }

  private async fetchLink(ref: LinkRef): Promise<Link | undefined> {
    const [data, attrs] = linkSelector(ref);
    try {
      const reply = await this.io.query('get link', linkDesc(ref), T.GETLINK, linkMessage(data, attrs));
      return decodeLink(rt.parseLinkMessage(reply.data));
    } catch (err) {
      if (isKernelErrno(err, 'ENODEV')) return undefined;
      throw err;
    }
  }

  async listLinks(options: ListOptions = {}): Promise<Link[]> {
    options.signal?.throwIfAborted();
    const links = defined(await this.io.dumpMessages('list', 'links', T.GETLINK, AF_UNSPEC, IFINFOMSG_BYTES, (p) => decodeLink(rt.parseLinkMessage(p))));
    options.signal?.throwIfAborted();
    return links;
  }

  async createLink(spec: LinkSpec): Promise<Link> {
    const attrs: ifla.LinkAttrs = { ifname: spec.name, linkinfo: encodeLinkinfo(spec) };
    if (spec.mtu) attrs.mtu = spec.mtu;
    if ('mac' in spec && spec.mac) attrs.address = macToBytes(spec.mac);
    await this.io.change('create link', spec.name, T.NEWLINK, CREATE_EXCL, linkMessage({ family: AF_UNSPEC }, attrs));
    const link = await this.getLink(spec.name);
    if (!link) throw new KernelError('ENODEV', `create link ${spec.name}: the link vanished right after it was created`);
    return link;
  }

  async deleteLink(ref: LinkRef): Promise<void> {
    await this.io.change('delete link', linkDesc(ref), T.DELLINK, 0, linkMessage(...linkSelector(ref)));
  }

  async setLinkUp(ref: LinkRef): Promise<void> {
    await this.setLink('set link up', linkDesc(ref), ref, { flags: { up: true }, change: { up: true } }, {});
  }

  async setLinkMtu(ref: LinkRef, mtu: number): Promise<void> {
    await this.setLink('set link mtu', `${linkDesc(ref)} mtu ${mtu}`, ref, {}, { mtu });
  }

  async setLinkMac(ref: LinkRef, mac: Mac): Promise<void> {
    await this.setLink('set link address', `${linkDesc(ref)} address ${mac}`, ref, {}, { address: macToBytes(mac) });
  }

  private async setLink(op: string, desc: string, ref: LinkRef, extraData: rt.Link, extraAttrs: ifla.LinkAttrs): Promise<void> {
    const [data, attrs] = linkSelector(ref);
    await this.io.change(op, desc, T.SETLINK, 0, linkMessage({ ...data, ...extraData }, { ...attrs, ...extraAttrs }));
  }

  // ---- addresses ----------------------------------------------------------------------------

  async listAddrs(linkIndex?: number, family?: Family, options: ListOptions = {}): Promise<Addr[]> {
    const af = family ? afOf(family) : AF_UNSPEC;
    options.signal?.throwIfAborted();
    const addrs = await this.io.dumpMessages('list', 'addresses', T.GETADDR, af, IFADDRMSG_BYTES, (p) => decodeAddr(rt.parseAddressMessage(p)));
    options.signal?.throwIfAborted();
    return defined(addrs).filter((a) => (linkIndex === undefined || a.linkIndex === linkIndex) && (!family || a.ip.family === family));
  }

  async addAddr(linkIndex: number, addr: AddrSpec): Promise<void> {
    await this.io.change('add address', () => addrDesc(linkIndex, addr), T.NEWADDR, CREATE_EXCL, addrMessage(linkIndex, addr));
  }

  async delAddr(linkIndex: number, addr: AddrSpec): Promise<void> {
    await this.io.change('delete address', () => addrDesc(linkIndex, addr), T.DELADDR, 0, addrMessage(linkIndex, addr));
  }

  // ---- routes -------------------------------------------------------------------------------

  scanRoutes(family: Family, visit: (route: Route) => void, options: RouteListOptions = {}): Promise<void> {
    const filter = { table: options.table ?? MAIN_TABLE, ...(options.linkIndex !== undefined ? { linkIndex: options.linkIndex } : {}) };
    return this.scan(options.signal, (live) =>
      this.io.dump('list', `IPv${family} routes`, T.GETROUTE, afOf(family), RTMSG_BYTES, (type, buf, offset, len) => {
        if (type !== T.NEWROUTE || !live()) return;
        const r = decodeRouteAt(buf, offset, len, filter);
        if (r) visit(r);
      }),
    );
  }

  /** Runs a dump whose visitor stops once `signal` aborts; rejects with the abort reason then. */
  private async scan(signal: AbortSignal | undefined, dump: (live: () => boolean) => Promise<void>): Promise<void> {
    signal?.throwIfAborted();
    await dump(() => signal?.aborted !== true);
    signal?.throwIfAborted();
  }

  async replaceRoute(spec: RouteSpec): Promise<void> {
    await this.io.change('replace route', () => routeDesc(spec), T.NEWROUTE, CREATE_REPLACE, encodeRouteReplace(spec));
  }

  async deleteRoute(match: RouteMatch): Promise<void> {
    const table = match.table ?? MAIN_TABLE;
    // Scope NOWHERE, type and protocol 0 mean "any", as `ip route del` sends.
    const data: rt.Route = {
      family: afOf(match.dst.family),
      dstLen: match.dst.prefix,
      table: table < 256 ? table : RT_TABLE_COMPAT,
      scope: rt.RouteScope.NOWHERE,
    };
    const attrs: rt.RouteAttrs = { dst: match.dst.ip.toBytes(), table };
    if (match.linkIndex !== undefined) attrs.oif = match.linkIndex;
    if (match.gateway) attrs.gateway = match.gateway.toBytes();
    if (match.metric !== undefined) attrs.priority = match.metric;
    await this.io.change('delete route', () => routeDesc(match), T.DELROUTE, 0, routeMessage(data, attrs));
  }

  async routeGet(ip: IPAddress): Promise<RouteLookup> {
    const reply = await this.io.query('get route to', ip.toString(), T.GETROUTE, routeMessage({ family: afOf(ip.family), dstLen: ip.bits }, { dst: ip.toBytes() }));
    // Decoded by hand: the answer is flagged RTM_F_CLONED, which decodeRoute drops as a cache entry.
    const { attrs } = rt.parseRouteMessage(reply.data);
    if (!attrs.oif) throw new KernelError('ENODEV', `get route to ${ip.toString()}: the kernel answered without an output device`);
    const src = ipFromBytes(attrs.prefsrc);
    const gateway = ipFromBytes(attrs.gateway);
    return { linkIndex: attrs.oif, ...(src ? { src } : {}), ...(gateway ? { gateway } : {}) };
  }

  // ---- neighbours ---------------------------------------------------------------------------

  scanNeighbors(linkIndex: number, family: Family, visit: (neighbor: Neighbor) => void, options: ListOptions = {}): Promise<void> {
    return this.scan(options.signal, (live) =>
      this.io.dump('list', `IPv${family} neighbours`, T.GETNEIGH, afOf(family), NDMSG_BYTES, (type, buf, offset, len) => {
        if (type !== T.NEWNEIGH || !live()) return;
        const n = decodeNeighborAt(buf, offset, len, linkIndex);
        if (n && n.ip.family === family) visit(n);
      }),
    );
  }

  async replaceNeighbor(n: NeighborSpec): Promise<void> {
    await this.io.change('replace neighbour', () => neighborDesc(n), T.NEWNEIGH, CREATE_REPLACE, encodeNeighborReplace(n));
  }

  async deleteNeighbor(n: { linkIndex: number; ip: IPAddress }): Promise<void> {
    const data: rt.Neighbor = { family: afOf(n.ip.family), ifindex: n.linkIndex };
    await this.io.change('delete neighbour', () => neighborDesc(n), T.DELNEIGH, 0, neighborMessage(data, { dst: n.ip.toBytes() }));
  }

  // ---- bridge FDB ---------------------------------------------------------------------------

  scanFdb(linkIndex: number, visit: (entry: FdbEntry) => void, options: ListOptions = {}): Promise<void> {
    return this.scan(options.signal, (live) =>
      this.io.dump('list', 'fdb', T.GETNEIGH, AF_BRIDGE, NDMSG_BYTES, (type, buf, offset, len) => {
        if (type !== T.NEWNEIGH || !live()) return;
        const e = decodeFdbAt(buf, offset, len, linkIndex);
        if (e) visit(e);
      }),
    );
  }

  async appendFdb(e: FdbSpec): Promise<void> {
    await this.io.change('append fdb', () => fdbDesc(e), T.NEWNEIGH, CREATE_APPEND, encodeFdbAppend(e));
  }

  async deleteFdb(e: FdbSpec): Promise<void> {
    const data: rt.Neighbor = { family: AF_BRIDGE, ifindex: e.linkIndex, flags: { self: true } };
    const attrs: rt.NeighborAttrs = { lladdr: macToBytes(e.mac), dst: e.dst.toBytes() };
    await this.io.change('delete fdb', () => fdbDesc(e), T.DELNEIGH, 0, neighborMessage(data, attrs));
  }

  // ---- events -------------------------------------------------------------------------------

  subscribe(groups: readonly EventGroup[], signal: AbortSignal, onEvent: (event: KernelEvent) => void): void {
    if (signal.aborted) return;
    const stop = subscribeNetlink(groups, signal, onEvent, this.logger, this.eventRecvBufferSize);
    this.subscriptions.add(stop);
    signal.addEventListener('abort', () => this.subscriptions.delete(stop), { once: true });
  }

  async close(): Promise<void> {
    for (const stop of this.subscriptions) stop();
    this.subscriptions.clear();
    await this.io.close();
  }
}

function defined<T>(items: Array<T | undefined>): T[] {
  return items.filter((x): x is T => x !== undefined);
}

function linkSelector(ref: LinkRef): [rt.Link, { ifname?: string }] {
  return typeof ref === 'number' ? [{ index: ref }, {}] : [{}, { ifname: ref }];
}

type Encoder = (out: AttrStream) => void;

function linkMessage(data: rt.Link, attrs: ifla.LinkAttrs): Encoder {
  return (out) => rt.formatLinkMessage({ kind: 'link', data, attrs }, out);
}

function routeMessage(data: rt.Route, attrs: rt.RouteAttrs): Encoder {
  return (out) => rt.formatRouteMessage({ kind: 'route', data, attrs }, out);
}

function neighborMessage(data: rt.Neighbor, attrs: rt.NeighborAttrs): Encoder {
  return (out) => rt.formatNeighborMessage({ kind: 'neighbor', data, attrs }, out);
}

function addrMessage(linkIndex: number, a: AddrSpec): Encoder {
  const bytes = a.ip.toBytes();
  const data: rt.Address = { family: afOf(a.ip.family), prefixlen: a.prefix, index: linkIndex };
  return (out) => rt.formatAddressMessage({ kind: 'address', data, attrs: { local: bytes, address: bytes } }, out);
}

