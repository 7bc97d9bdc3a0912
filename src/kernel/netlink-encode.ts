/**
 * @module kernel/netlink-encode
 * Direct encoders for the three requests a reconcile pass sends by the thousand (route replace,
 * neighbour replace, FDB append): one buffer each, written in place. The netlink package builds
 * objects, a stream and a buffer per attribute for every request; at 5000 vxlan peers that
 * garbage (15000 requests in a burst) made a third of the daemon's CPU time go to GC, and kept
 * the heap big. netlink-encode.test.ts checks the bytes equal the package's for every shape.
 * Layouts: rtmsg and ndmsg from <linux/rtnetlink.h> and <linux/neighbour.h>; rtattrs are
 * 4-byte-aligned TLVs; numbers in host byte order.
 */
import { endianness } from 'node:os';
import type { FdbSpec, Mac, NeighborSpec, RouteSpec } from './types.ts';
import { MAIN_TABLE } from './types.ts';
import type { IPAddress } from '../ip/index.ts';
import { writeMac } from './mac.ts';
import { AF_BRIDGE, RT_TABLE_COMPAT, RTNH_F_ONLINK, afOf } from './netlink-codec.ts';
import { NDA_DST, NDA_LLADDR, NTF_SELF, NUD_PERMANENT, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE } from './netlink-raw.ts';

const LE = endianness() === 'LE';
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
const NUD_REACHABLE = 0x02;
const HEADER_BYTES = 12; // rtmsg and ndmsg alike

const align4 = (n: number): number => (n + 3) & ~3;

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private offset = HEADER_BYTES;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, LE);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v, LE);
  }

  attrIp(type: number, ip: IPAddress): void {
    const n = ip.family === 4 ? 4 : 16;
    this.u16(this.offset, 4 + n);
    this.u16(this.offset + 2, type);
    ip.writeBytes(this.bytes, this.offset + 4);
    this.offset += 4 + n;
  }

  attrMac(type: number, mac: Mac): void {
    this.u16(this.offset, 10);
    this.u16(this.offset + 2, type);
    writeMac(mac, this.bytes, this.offset + 4);
    this.offset += 12; // past the end when it is the last attribute: nothing is written there
  }

  attrU32(type: number, value: number): void {
    this.u16(this.offset, 8);
    this.u16(this.offset + 2, type);
    this.u32(this.offset + 4, value);
    this.offset += 8;
  }
}

/** Header plus attributes of these value sizes (undefined: absent); the last one is not padded. */
function sizeOf(values: ReadonlyArray<number | undefined>): number {
  const present = values.filter((v): v is number => v !== undefined);
  const last = present.pop() ?? 0;
  return present.reduce((n, v) => n + align4(4 + v), HEADER_BYTES) + 4 + last;
}

const ipBytes = (ip: IPAddress | undefined): number | undefined => (ip === undefined ? undefined : ip.family === 4 ? 4 : 16);

/** RTM_NEWROUTE payload for Kernel.replaceRoute. */
export function encodeRouteReplace(spec: RouteSpec): Uint8Array {
  const table = spec.table ?? MAIN_TABLE;
  const w = new Writer(sizeOf([ipBytes(spec.dst.ip), 4, 4, ipBytes(spec.gateway), ipBytes(spec.src), spec.metric !== undefined ? 4 : undefined]));
  w.u8(0, afOf(spec.dst.family));
  w.u8(1, spec.dst.prefix);
  w.u8(4, table < 256 ? table : RT_TABLE_COMPAT);
  w.u8(5, RTPROT_BOOT);
  w.u8(6, spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  w.u8(7, RTN_UNICAST);
  w.u32(8, spec.onlink ? RTNH_F_ONLINK : 0);
  // The kernel takes attributes in any order; this is the package's, so the bytes can be compared.
  w.attrIp(RTA_DST, spec.dst.ip);
  w.attrU32(RTA_OIF, spec.linkIndex);
  w.attrU32(RTA_TABLE, table);
  if (spec.gateway) w.attrIp(RTA_GATEWAY, spec.gateway);
  if (spec.src) w.attrIp(RTA_PREFSRC, spec.src);
  if (spec.metric !== undefined) w.attrU32(RTA_PRIORITY, spec.metric);
  return w.bytes;
}

function neighbour(family: number, ifindex: number, state: number, flags: number, dst: IPAddress, mac: Mac, macFirst: boolean): Uint8Array {
  const dstBytes = dst.family === 4 ? 4 : 16;
  const w = new Writer(sizeOf(macFirst ? [6, dstBytes] : [dstBytes, 6]));
  w.u8(0, family);
  w.u32(4, ifindex);
  w.u16(8, state);
  w.u8(10, flags);
  if (macFirst) w.attrMac(NDA_LLADDR, mac);
  w.attrIp(NDA_DST, dst);
  if (!macFirst) w.attrMac(NDA_LLADDR, mac);
  return w.bytes;
}

/** RTM_NEWNEIGH payload for Kernel.replaceNeighbor. */
export function encodeNeighborReplace(n: NeighborSpec): Uint8Array {
  return neighbour(afOf(n.ip.family), n.linkIndex, n.permanent === false ? NUD_REACHABLE : NUD_PERMANENT, 0, n.ip, n.mac, false);
}

/** RTM_NEWNEIGH (AF_BRIDGE) payload for Kernel.appendFdb. */
export function encodeFdbAppend(e: FdbSpec): Uint8Array {
  return neighbour(AF_BRIDGE, e.linkIndex, NUD_PERMANENT, NTF_SELF, e.dst, e.mac, true);
}
