/**
 * @module kernel/netlink-codec
 * Converts between the `netlink` package's rtnetlink messages and our kernel types. Pure
 * functions: no sockets here, so they can be unit-tested without privileges.
 */
import { endianness } from 'node:os';
import { AttrStream, ifla, rt } from 'netlink';
import { describeError, KernelError } from '../errors/index.ts';
import { Cidr, IPAddress, type Family } from '../ip/index.ts';
import { bytesToMac } from './mac.ts';
import { AF_BRIDGE, AF_INET, AF_INET6, RTM_F_CLONED, RTNH_F_ONLINK } from './netlink-raw.ts';
import type { Addr, EventGroup, FdbEntry, IpipInfo, IpipLinkSpec, KernelEvent, Link, Neighbor, NeighborState, Route, RouteType, VxlanInfo, VxlanSpec, LinkSpec } from './types.ts';

export { AF_BRIDGE, AF_INET, AF_INET6, AF_UNSPEC, afOf, RTNH_F_ONLINK } from './netlink-raw.ts';
export const RT_TABLE_COMPAT = 252;

function familyOfAf(af: number | undefined): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

export function ipFromBytes(bytes: Uint8Array | undefined): IPAddress | undefined {
  return bytes && (bytes.length === 4 || bytes.length === 16) ? IPAddress.fromBytes(bytes) : undefined;
}

/** The package parses enums into their names when known; we want the number. */
function enumNumber(mapping: Record<string, string | number>, value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const n = mapping[value];
  return typeof n === 'number' ? n : 0;
}

// ---- links ----------------------------------------------------------------------------------

/** IFLA_LINKINFO for a VXLAN device: {IFLA_INFO_KIND "vxlan", IFLA_INFO_DATA {IFLA_VXLAN_*}}. */
/** IFLA_LINKINFO for a new device: its kind and, for kinds that have them, the kind's attributes. */
export function encodeLinkinfo(spec: LinkSpec): Buffer {
  switch (spec.kind) {
    case 'vxlan':
      return encodeVxlanLinkinfo(spec);
    case 'wireguard': {
      // WireGuard takes no IFLA_INFO_DATA: keys and peers are set over generic netlink.
      const info = new AttrStream();
      info.emit(ifla.formatInfo({ kind: 'wireguard' }));
      return Buffer.concat(info.bufs);
    }
    case 'ipip':
      return encodeIpipLinkinfo(spec);
  }
}

// <linux/if_tunnel.h>: the IFLA_IPTUN_* attributes of IFLA_INFO_DATA for ipip.
export const IFLA_IPTUN_LINK = 1;
export const IFLA_IPTUN_LOCAL = 2;
export const IFLA_IPTUN_REMOTE = 3;
export const IFLA_IPTUN_TTL = 4;
export const IFLA_IPTUN_TOS = 5;
export const IFLA_IPTUN_PMTUDISC = 10;

/**
 * IFLA_LINKINFO for an ipip device: {IFLA_INFO_KIND "ipip", IFLA_INFO_DATA {LOCAL, PMTUDISC 0,
 * TTL 0, TOS 0}}, the attributes upstream flannel's netlink library sends for flannel.ipip.
 * LOCAL is an in_addr (network byte order), unlike the package's formatIptun, which writes it as
 * a host-order u32; so the data is written here.
 */
export function encodeIpipLinkinfo(spec: IpipLinkSpec): Buffer {
  const attrs: Buffer[] = [];
  if (spec.local) {
    if (spec.local.family !== 4) throw new KernelError('EINVAL', `create link ${spec.name}: an ipip tunnel's local address must be IPv4, got ${spec.local.toString()}`);
    attrs.push(rtattr(IFLA_IPTUN_LOCAL, spec.local.toBytes()));
  }
  attrs.push(rtattr(IFLA_IPTUN_PMTUDISC, Uint8Array.of(0)), rtattr(IFLA_IPTUN_TTL, Uint8Array.of(0)), rtattr(IFLA_IPTUN_TOS, Uint8Array.of(0)));
  const info = new AttrStream();
  info.emit(ifla.formatInfo({ kind: 'ipip', data: Buffer.concat(attrs) }));
  return Buffer.concat(info.bufs);
}

const HOST_LE = endianness() === 'LE';

/** One rtattr: u16 length (header + value, unpadded) and u16 type in host order, the value, zero padding to 4 bytes. */
function rtattr(type: number, value: Uint8Array): Buffer {
  const out = Buffer.alloc((4 + value.length + 3) & ~3);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  view.setUint16(0, 4 + value.length, HOST_LE);
  view.setUint16(2, type, HOST_LE);
  out.set(value, 4);
  return out;
}

/** The package reads in_addr attributes as host-order u32s; this turns one back into the address (0: none). */
function inAddrFromU32(v: number | undefined): IPAddress | undefined {
  if (v === undefined || v === 0) return undefined;
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, HOST_LE);
  return IPAddress.fromBytes(b);
}

function decodeIpip(data: Buffer): IpipInfo {
  const t = ifla.parseIptun(data);
  const local = inAddrFromU32(t.local);
  const remote = inAddrFromU32(t.remote);
  return {
    ...(local ? { local } : {}),
    ...(remote ? { remote } : {}),
    ...(t.link ? { link: t.link } : {}),
    ttl: t.ttl ?? 0,
    // The kernel sends PMTUDISC always; a missing one means its default, on.
    pmtudisc: t.pmtudisc === undefined ? true : t.pmtudisc !== 0,
  };
}

export function encodeVxlanLinkinfo(spec: VxlanSpec): Buffer {
  const data: ifla.Vxlan = {
    id: spec.vni,
    learning: spec.learning ? 1 : 0,
  };
  if (spec.local) {
    if (spec.local.family === 4) data.local = spec.local.toBytes();
    else data.local6 = spec.local.toBytes();
  }
  if (spec.linkIndex !== undefined) data.link = spec.linkIndex;
  if (spec.port) {
    const port = Buffer.alloc(2);
    port.writeUInt16BE(spec.port);
    data.port = port;
  }
  if (spec.gbp) data.gbp = true;
  const vxlan = new AttrStream();
  vxlan.emit(ifla.formatVxlan(data));
  const info = new AttrStream();
  info.emit(ifla.formatInfo({ kind: 'vxlan', data: Buffer.concat(vxlan.bufs) }));
  return Buffer.concat(info.bufs);
}

function decodeVxlan(data: Buffer): VxlanInfo {
  const v = ifla.parseVxlan(data);
  const local = ipFromBytes(v.local) ?? ipFromBytes(v.local6);
  return {
    vni: v.id ?? 0,
    ...(local ? { local } : {}),
    port: v.port && v.port.length === 2 ? v.port.readUInt16BE(0) : 0,
    learning: (v.learning ?? 0) !== 0,
    gbp: v.gbp === true,
    ...(v.link ? { link: v.link } : {}),
  };
}

export function decodeLink(msg: rt.LinkMessage): Link | undefined {
  const { data, attrs } = msg;
  if (data.index === undefined || attrs.ifname === undefined) return undefined;
  const link: Link = {
    index: data.index,
    name: attrs.ifname,
    mtu: attrs.mtu ?? 0,
    mac: bytesToMac(attrs.address),
    up: data.flags?.up === true,
  };
  if (attrs.master) link.masterIndex = attrs.master;
  if (attrs.linkinfo) {
    const info = ifla.parseInfo(attrs.linkinfo);
    if (info.kind) link.kind = info.kind;
    if (info.kind === 'vxlan' && info.data) link.vxlan = decodeVxlan(info.data);
    if (info.kind === 'ipip' && info.data) link.ipip = decodeIpip(info.data);
  }
  return link;
}

// ---- addresses ------------------------------------------------------------------------------

export function decodeAddr(msg: rt.AddressMessage): Addr | undefined {
  const { data, attrs } = msg;
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const ip = ipFromBytes(attrs.local) ?? ipFromBytes(attrs.address);
  if (!ip || data.index === undefined || familyOfAf(data.family) !== ip.family) return undefined;
  const prefix = data.prefixlen ?? ip.bits;
  // A prefix longer than the address is no address we can use (the kernel sends none).
  if (prefix > ip.bits) return undefined;
  return { linkIndex: data.index, ip, prefix, scope: data.scope ?? 0 };
}

// ---- routes ---------------------------------------------------------------------------------

const ROUTE_TYPES: Record<number, RouteType> = {
  1: 'unicast',
  2: 'local',
  3: 'broadcast',
  4: 'anycast',
  5: 'multicast',
  6: 'blackhole',
  7: 'unreachable',
  8: 'prohibit',
  9: 'throw',
};

export function routeFlagBits(flags: rt.RouteFlags | undefined): number {
  return flags ? rt.formatRouteFlags(flags) : 0;
}

/** Returns undefined for non-IP families and for cached clones (IPv6 exceptions). */
export function decodeRoute(msg: rt.RouteMessage): Route | undefined {
  const { data, attrs } = msg;
  const family = familyOfAf(data.family);
  if (!family) return undefined;
  const flags = routeFlagBits(data.flags);
  if (flags & RTM_F_CLONED) return undefined;
  // A prefix or an address the family cannot have is no route we can read (as decodeRouteAt).
  const bytes = family === 4 ? 4 : 16;
  if ((data.dstLen ?? 0) > bytes * 8 || [attrs.dst, attrs.gateway, attrs.prefsrc].some((a) => a !== undefined && a.length !== bytes)) return undefined;
  const dstIp = ipFromBytes(attrs.dst) ?? IPAddress.fromBigInt(family, 0n);
  const route: Route = {
    dst: Cidr.of(dstIp, data.dstLen ?? 0),
    onlink: (flags & RTNH_F_ONLINK) !== 0,
    table: attrs.table ?? data.table ?? 0,
    type: ROUTE_TYPES[enumNumber(rt.RouteType, data.type)] ?? 'other',
    protocol: enumNumber(rt.RouteProtocol, data.protocol),
    scope: enumNumber(rt.RouteScope, data.scope),
  };
  const gateway = ipFromBytes(attrs.gateway);
  if (gateway) route.gateway = gateway;
  if (attrs.oif) route.linkIndex = attrs.oif;
  const src = ipFromBytes(attrs.prefsrc);
  if (src) route.src = src;
  if (attrs.priority !== undefined) route.metric = attrs.priority;
  return route;
}

// ---- neighbours and FDB ---------------------------------------------------------------------

const STATE_ORDER: Array<Exclude<NeighborState, 'none'>> = ['permanent', 'noarp', 'reachable', 'stale', 'delay', 'probe', 'failed', 'incomplete'];

function decodeState(state: rt.NeighborState | undefined): NeighborState {
  return STATE_ORDER.find((s) => state?.[s] === true) ?? 'none';
}

export function decodeNeighbor(msg: rt.NeighborMessage): Neighbor | undefined {
  const { data, attrs } = msg;
  const family = familyOfAf(data.family);
  if (!family || data.ifindex === undefined) return undefined;
  const ip = ipFromBytes(attrs.dst);
  if (!ip || ip.family !== family) return undefined;
  const n: Neighbor = { linkIndex: data.ifindex, ip, state: decodeState(data.state) };
  if (attrs.lladdr) n.mac = bytesToMac(attrs.lladdr);
  return n;
}

export function decodeFdb(msg: rt.NeighborMessage): FdbEntry | undefined {
  const { data, attrs } = msg;
  if (data.family !== AF_BRIDGE || data.ifindex === undefined || !attrs.lladdr) return undefined;
  const e: FdbEntry = {
    linkIndex: data.ifindex,
    mac: bytesToMac(attrs.lladdr),
    self: data.flags?.self === true,
    permanent: data.state?.permanent === true,
  };
  const dst = ipFromBytes(attrs.dst);
  if (dst) e.dst = dst;
  if (attrs.vni && attrs.vni.length === 4) e.vni = attrs.vni.readUInt32LE(0);
  return e;
}

// ---- notifications --------------------------------------------------------------------------

/** rtnetlink multicast groups (RTNLGRP_*) behind each of our event groups. */
export function multicastGroups(groups: readonly EventGroup[]): number[] {
  const g = rt.MulticastGroups;
  const out = new Set<number>();
  for (const group of groups) {
    if (group === 'link') out.add(g.LINK);
    if (group === 'addr') [g.IPV4_IFADDR, g.IPV6_IFADDR].forEach((x) => out.add(x));
    if (group === 'route') [g.IPV4_ROUTE, g.IPV6_ROUTE].forEach((x) => out.add(x));
    if (group === 'neigh' || group === 'fdb') out.add(g.NEIGH);
  }
  return [...out];
}

/**
 * Decodes one notification; undefined for message types or families not asked for and for
 * messages that name no usable object. A payload the package cannot parse is a KernelError.
 */
export function decodeEvent(type: number, payload: Buffer, groups: ReadonlySet<EventGroup>): KernelEvent | undefined {
  try {
    return decodeEventPayload(type, payload, groups);
  } catch (err) {
    throw new KernelError('E_NETLINK_DECODE', `cannot decode a kernel notification (message type ${type}, ${payload.length} bytes): ${describeError(err)}`, { cause: err });
  }
}

function decodeEventPayload(type: number, payload: Buffer, groups: ReadonlySet<EventGroup>): KernelEvent | undefined {
  const T = rt.MessageType;
  const action = type === T.NEWLINK || type === T.NEWADDR || type === T.NEWROUTE || type === T.NEWNEIGH ? 'new' : 'del';
  switch (type) {
    case T.NEWLINK:
    case T.DELLINK: {
      const link = groups.has('link') ? decodeLink(rt.parseLinkMessage(payload)) : undefined;
      return link && { type: 'link', action, link };
    }
    case T.NEWADDR:
    case T.DELADDR: {
      const addr = groups.has('addr') ? decodeAddr(rt.parseAddressMessage(payload)) : undefined;
      return addr && { type: 'addr', action, addr };
    }
    case T.NEWROUTE:
    case T.DELROUTE: {
      const route = groups.has('route') ? decodeRoute(rt.parseRouteMessage(payload)) : undefined;
      return route && { type: 'route', action, route };
    }
    case T.NEWNEIGH:
    case T.DELNEIGH: {
      const msg = rt.parseNeighborMessage(payload);
      if (msg.data.family === AF_BRIDGE) {
        const fdb = groups.has('fdb') ? decodeFdb(msg) : undefined;
        return fdb && { type: 'fdb', action, fdb };
      }
      const neighbor = groups.has('neigh') ? decodeNeighbor(msg) : undefined;
      return neighbor && { type: 'neigh', action, neighbor };
    }
    default:
      return undefined;
  }
}
