/**
 * Counting kernel objects with raw rtnetlink dumps, for the benchmark agent. Decoding thousands of
 * routes into objects (as src/kernel does) would steal CPU from the flanneld being measured on a
 * small machine, so this only walks the attributes it needs. Acts on the caller's namespace.
 */
import { createNetlink, FlagsGet, type NetlinkMessage, type NetlinkSocket } from 'netlink';

const NETLINK_ROUTE = 0;
const RTM_GETROUTE = 26;
const RTM_GETNEIGH = 30;
const AF_INET = 2;
const AF_BRIDGE = 7;
const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const NDA_DST = 1;
const NUD_PERMANENT = 0x80;

/** An IPv4 prefix as numbers, for cheap containment tests on raw bytes. */
export interface Prefix4 {
  readonly addr: number;
  readonly len: number;
}

export function parsePrefix4(cidr: string): Prefix4 {
  const [ip, len] = cidr.split('/');
  return { addr: ipToNumber(ip ?? ''), len: Number(len) };
}

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

function contains(p: Prefix4, addr: number, len: number): boolean {
  if (len < p.len) return false;
  if (p.len === 0) return true;
  const mask = p.len === 32 ? 0xffffffff : ~(0xffffffff >>> p.len) >>> 0;
  return ((addr & mask) >>> 0) === ((p.addr & mask) >>> 0);
}

/** Which routes count as a peer's: on `linkIndex`, in the main table, unicast, destination inside `network`. */
export interface RouteFilter {
  readonly linkIndex: number;
  readonly network: Prefix4;
  /** host-gw: only gateway routes (the node's own connected routes are not peers). */
  readonly needGateway: boolean;
}

export class NetlinkCounter {
  readonly #socket: NetlinkSocket;

  constructor() {
    this.#socket = createNetlink(NETLINK_ROUTE, { recvBufferSize: 8 << 20, sendBufferSize: 0 });
  }

  async #dump(type: number, header: Buffer): Promise<NetlinkMessage[]> {
    const [msgs] = await this.#socket.request(type, header, { flags: FlagsGet.DUMP, timeout: 30_000 });
    return msgs;
  }

  async countRoutes(f: RouteFilter): Promise<number> {
    const header = Buffer.alloc(12);
    header.writeUInt8(AF_INET, 0);
    const msgs = await this.#dump(RTM_GETROUTE, header);
    let n = 0;
    for (const m of msgs) {
      const r = parseRoute(m.data);
      if (r && isPeerRoute(r, f)) n++;
    }
    return n;
  }

  /** Permanent IPv4 neighbours on `linkIndex`. */
  async countNeighbors(linkIndex: number): Promise<number> {
    const header = Buffer.alloc(12);
    header.writeUInt8(AF_INET, 0);
    const msgs = await this.#dump(RTM_GETNEIGH, header);
    let n = 0;
    for (const m of msgs) {
      const d = m.data;
      if (d.length < 12) continue;
      if (d.readInt32LE(4) === linkIndex && (d.readUInt16LE(8) & NUD_PERMANENT) !== 0) n++;
    }
    return n;
  }

  /** FDB entries with a remote (dst) on `linkIndex`. */
  async countFdb(linkIndex: number): Promise<number> {
    const header = Buffer.alloc(12);
    header.writeUInt8(AF_BRIDGE, 0);
    const msgs = await this.#dump(RTM_GETNEIGH, header);
    let n = 0;
    for (const m of msgs) {
      const d = m.data;
      if (d.length < 12 || d.readInt32LE(4) !== linkIndex) continue;
      for (let off = 12; off + 4 <= d.length; ) {
        const len = d.readUInt16LE(off);
        if (len < 4) break;
        if ((d.readUInt16LE(off + 2) & 0x3fff) === NDA_DST) {
          n++;
          break;
        }
        off += (len + 3) & ~3;
      }
    }
    return n;
  }

  close(): void {
    this.#socket.close();
  }
}

const RTNLGRP_NEIGH = 3;
const RTNLGRP_IPV4_ROUTE = 7;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;

/** A route notification, decoded as far as counting needs. */
export interface RouteEvent {
  readonly action: 'new' | 'del';
  /** "a.b.c.d/len" */
  readonly dst: string;
  readonly dstAddr: number;
  readonly dstLen: number;
  readonly oif: number;
  readonly table: number;
  readonly unicast: boolean;
  readonly gateway: boolean;
}

/** Whether a route notification is one of a peer's routes by the same rules as countRoutes. */
export function isPeerRoute(e: RouteFields, f: RouteFilter): boolean {
  return e.unicast && e.table === RT_TABLE_MAIN && e.oif === f.linkIndex && e.dstLen > 0 && (!f.needGateway || e.gateway) && contains(f.network, e.dstAddr, e.dstLen);
}

type RouteFields = Omit<RouteEvent, 'action' | 'dst'>;

/** The fields of an IPv4 route message that counting looks at (no strings: dumps run every few ms). */
function parseRoute(d: Buffer): RouteFields | undefined {
  if (d.length < 12 || d.readUInt8(0) !== AF_INET) return undefined;
  const dstLen = d.readUInt8(1);
  let table = d.readUInt8(4);
  let oif = -1;
  let dstAddr = 0;
  let gateway = false;
  for (let off = 12; off + 4 <= d.length; ) {
    const len = d.readUInt16LE(off);
    const t = d.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4) break;
    if (t === RTA_OIF && len >= 8) oif = d.readUInt32LE(off + 4);
    else if (t === RTA_TABLE && len >= 8) table = d.readUInt32LE(off + 4);
    else if (t === RTA_DST && len >= 8) dstAddr = d.readUInt32BE(off + 4);
    else if (t === RTA_GATEWAY) gateway = true;
    off += (len + 3) & ~3;
  }
  return { dstAddr, dstLen, oif, table, unicast: d.readUInt8(7) === RTN_UNICAST, gateway };
}

function decodeRoute(type: number, d: Buffer): RouteEvent | undefined {
  if (type !== RTM_NEWROUTE && type !== RTM_DELROUTE) return undefined;
  const r = parseRoute(d);
  if (!r) return undefined;
  const a = r.dstAddr;
  const dst = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${r.dstLen}`;
  return { action: type === RTM_NEWROUTE ? 'new' : 'del', dst, ...r };
}

/**
 * IPv4 route notifications, timestamped (hrtime ns) when the agent reads them. Each subscription
 * has its own socket with an 8 MiB receive buffer (the kernel caps it at 2 x net.core.rmem_max):
 * enough for the notifications of ~5000 routes even if they are not read at all meanwhile.
 */
export function watchRoutes(onRoute: (e: RouteEvent, atNs: bigint) => void): () => void {
  const socket = createNetlink(NETLINK_ROUTE, { recvBufferSize: 8 << 20, sendBufferSize: 0, ref: true });
  socket.addMembership(RTNLGRP_IPV4_ROUTE);
  socket.on('message', (msgs) => {
    const at = process.hrtime.bigint();
    for (const m of msgs) {
      const e = decodeRoute(m.type, m.data);
      if (e) onRoute(e, at);
    }
  });
  return () => socket.close();
}

/** Calls `onNeighbor` with the link index of each new permanent IPv4 neighbour. */
export function watchNeighbors(onNeighbor: (linkIndex: number, atNs: bigint) => void): () => void {
  const socket = createNetlink(NETLINK_ROUTE, { recvBufferSize: 8 << 20, sendBufferSize: 0, ref: true });
  socket.addMembership(RTNLGRP_NEIGH);
  let open = true;
  socket.on('message', (msgs) => {
    const at = process.hrtime.bigint();
    for (const m of msgs) {
      const d = m.data;
      if (m.type !== RTM_NEWNEIGH || d.length < 12 || d.readUInt8(0) !== AF_INET) continue;
      if ((d.readUInt16LE(8) & NUD_PERMANENT) !== 0 && open) onNeighbor(d.readInt32LE(4), at);
    }
  });
  return () => {
    if (!open) return;
    open = false;
    socket.close();
  };
}
