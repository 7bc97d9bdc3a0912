/**
 * @module kernel/netlink-raw
 * rtnetlink dump requests and the decoding of routes, neighbours and FDB entries straight from
 * the received bytes. A periodic pass lists thousands of these: the `netlink` package would
 * build a message object, a parsed header with a flags object, an attribute object and a Buffer
 * per attribute for each, only for us to convert them again. Here a listing is decoded as each
 * datagram arrives, filters are applied to the fixed header before any attribute is read, and
 * only our own values are built. Pure functions: unit-tested without privileges.
 */
import { endianness } from 'node:os';
import { Cidr, IPAddress, type Family } from '../ip/index.ts';
import type { FdbEntry, Neighbor, NeighborState, Route, RouteType } from './types.ts';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_DUMP = 0x300;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
export const RTM_F_CLONED = 0x200;
export const RTNH_F_ONLINK = 4;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
const NDA_VNI = 7;
export const NTF_SELF = 0x02;
export const NUD_PERMANENT = 0x80;

const LE = endianness() === 'LE';
/** Netlink headers and integer attributes are in host byte order. */
export const u16 = (b: Buffer, o: number): number => (LE ? b.readUInt16LE(o) : b.readUInt16BE(o));
export const u32 = (b: Buffer, o: number): number => (LE ? b.readUInt32LE(o) : b.readUInt32BE(o));
export const i32 = (b: Buffer, o: number): number => (LE ? b.readInt32LE(o) : b.readInt32BE(o));

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A dump request: nlmsghdr + a zeroed family header of `headerBytes` with the family in its first byte. */
export function dumpRequest(type: number, seq: number, port: number, family: number, headerBytes: number): Buffer {
  const len = 16 + headerBytes;
  const b = Buffer.alloc(align4(len));
  const w32 = (v: number, o: number): number => (LE ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const w16 = (v: number, o: number): number => (LE ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  w32(len, 0);
  w16(type, 4);
  w16(NLM_F_REQUEST | NLM_F_DUMP, 6);
  w32(seq, 8);
  w32(port, 12);
  b[16] = family;
  return b;
}

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

function ipAt(b: Buffer, o: number, len: number): IPAddress | undefined {
  if (len === 4) return IPAddress.fromBigInt(4, BigInt(b.readUInt32BE(o)));
  if (len === 16) return IPAddress.fromBigInt(6, (b.readBigUInt64BE(o) << 64n) | b.readBigUInt64BE(o + 8));
  return undefined;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function macAt(b: Buffer, o: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += (i ? ':' : '') + HEX[b[o + i] as number];
  return s;
}

const ROUTE_TYPES: readonly RouteType[] = ['other', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw'];

export interface RouteFilter {
  /** Default: any table. */
  table?: number;
  linkIndex?: number;
}

/**
 * One RTM_NEWROUTE payload (rtmsg + attributes) at `o`, `len` bytes. Undefined for non-IP
 * families, cached clones (IPv6 exceptions) and routes the filter excludes.
 */
export function decodeRouteAt(b: Buffer, o: number, len: number, filter: RouteFilter = {}): Route | undefined {
  if (len < 12) return undefined;
  const af = b[o] as number;
  const family: Family | undefined = af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
  if (!family) return undefined;
  const flags = u32(b, o + 8);
  if (flags & RTM_F_CLONED) return undefined;
  let table = b[o + 4] as number;
  let oif: number | undefined;
  let dst = -1;
  let dstLen = 0;
  let gw = -1;
  let gwLen = 0;
  let src = -1;
  let srcLen = 0;
  let metric: number | undefined;
  for (let a = o + 12, end = o + len; a + 4 <= end; ) {
    const alen = u16(b, a);
    if (alen < 4 || a + alen > end) break;
    const type = u16(b, a + 2) & 0x3fff;
    const v = a + 4;
    const vlen = alen - 4;
    if (type === RTA_TABLE && vlen >= 4) table = u32(b, v);
    else if (type === RTA_OIF && vlen >= 4) oif = u32(b, v);
    else if (type === RTA_DST) {
      dst = v;
      dstLen = vlen;
    } else if (type === RTA_GATEWAY) {
      gw = v;
      gwLen = vlen;
    } else if (type === RTA_PREFSRC) {
      src = v;
      srcLen = vlen;
    } else if (type === RTA_PRIORITY && vlen >= 4) metric = u32(b, v);
    a += align4(alen);
  }
  if (filter.table !== undefined && table !== filter.table) return undefined;
  if (filter.linkIndex !== undefined && oif !== filter.linkIndex) return undefined;
  // A prefix or an address the family cannot have is no route we can read (the kernel sends none).
  const bytes = family === 4 ? 4 : 16;
  if ((b[o + 1] as number) > bytes * 8 || (dst >= 0 && dstLen !== bytes) || (gw >= 0 && gwLen !== bytes) || (src >= 0 && srcLen !== bytes)) return undefined;
  const dstIp = (dst >= 0 ? ipAt(b, dst, dstLen) : undefined) ?? IPAddress.fromBigInt(family, 0n);
  const route: Route = {
    dst: Cidr.of(dstIp, b[o + 1] as number),
    onlink: (flags & RTNH_F_ONLINK) !== 0,
    table,
    type: ROUTE_TYPES[b[o + 7] as number] ?? 'other',
    protocol: b[o + 5] as number,
    scope: b[o + 6] as number,
  };
  const gateway = gw >= 0 ? ipAt(b, gw, gwLen) : undefined;
  if (gateway) route.gateway = gateway;
  if (oif) route.linkIndex = oif;
  const prefsrc = src >= 0 ? ipAt(b, src, srcLen) : undefined;
  if (prefsrc) route.src = prefsrc;
  if (metric !== undefined) route.metric = metric;
  return route;
}

const STATES: ReadonlyArray<[number, NeighborState]> = [
  [0x80, 'permanent'],
  [0x40, 'noarp'],
  [0x02, 'reachable'],
  [0x04, 'stale'],
  [0x08, 'delay'],
  [0x10, 'probe'],
  [0x20, 'failed'],
  [0x01, 'incomplete'],
];

function neighborState(bits: number): NeighborState {
  for (const [bit, name] of STATES) if (bits & bit) return name;
  return 'none';
}

interface NdAttrs {
  dst: number;
  dstLen: number;
  lladdr: number;
  lladdrLen: number;
  vni: number | undefined;
}

function ndAttrs(b: Buffer, o: number, len: number): NdAttrs {
  const r: NdAttrs = { dst: -1, dstLen: 0, lladdr: -1, lladdrLen: 0, vni: undefined };
  for (let a = o + 12, end = o + len; a + 4 <= end; ) {
    const alen = u16(b, a);
    if (alen < 4 || a + alen > end) break;
    const type = u16(b, a + 2) & 0x3fff;
    if (type === NDA_DST) {
      r.dst = a + 4;
      r.dstLen = alen - 4;
    } else if (type === NDA_LLADDR) {
      r.lladdr = a + 4;
      r.lladdrLen = alen - 4;
    } else if (type === NDA_VNI && alen - 4 === 4) r.vni = u32(b, a + 4);
    a += align4(alen);
  }
  return r;
}

/** One RTM_NEWNEIGH payload (ndmsg + attributes) of an IP family on `linkIndex`, else undefined. */
export function decodeNeighborAt(b: Buffer, o: number, len: number, linkIndex?: number): Neighbor | undefined {
  if (len < 12) return undefined;
  const af = b[o] as number;
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const ifindex = i32(b, o + 4);
  if (linkIndex !== undefined && ifindex !== linkIndex) return undefined;
  const at = ndAttrs(b, o, len);
  // Only an address of the message's family: an IPv4 listing never holds IPv6 neighbours.
  const ip = at.dst >= 0 && at.dstLen === (af === AF_INET ? 4 : 16) ? ipAt(b, at.dst, at.dstLen) : undefined;
  if (!ip) return undefined;
  const n: Neighbor = { linkIndex: ifindex, ip, state: neighborState(u16(b, o + 8)) };
  if (at.lladdr >= 0) n.mac = macAt(b, at.lladdr, at.lladdrLen);
  return n;
}

/** One AF_BRIDGE RTM_NEWNEIGH payload on `linkIndex` that has a hardware address, else undefined. */
export function decodeFdbAt(b: Buffer, o: number, len: number, linkIndex?: number): FdbEntry | undefined {
  if (len < 12 || b[o] !== AF_BRIDGE) return undefined;
  const ifindex = i32(b, o + 4);
  if (linkIndex !== undefined && ifindex !== linkIndex) return undefined;
  const at = ndAttrs(b, o, len);
  if (at.lladdr < 0) return undefined;
  const e: FdbEntry = {
    linkIndex: ifindex,
    mac: macAt(b, at.lladdr, at.lladdrLen),
    self: ((b[o + 10] as number) & NTF_SELF) !== 0,
    permanent: (u16(b, o + 8) & NUD_PERMANENT) !== 0,
  };
  const dst = at.dst >= 0 ? ipAt(b, at.dst, at.dstLen) : undefined;
  if (dst) e.dst = dst;
  if (at.vni !== undefined) e.vni = at.vni;
  return e;
}
