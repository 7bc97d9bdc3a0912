/**
 * @module kernel/describe
 * How errors name kernel objects, shared by NetlinkKernel and FakeKernel so both fail alike:
 * `replace route 10.244.2.0/24 via 10.244.2.0 dev 5 onlink: ENETDOWN (Network is down)`.
 */
import type { Cidr, IPAddress } from '../ip/index.ts';
import { MAIN_TABLE, type AddrSpec, type FdbSpec, type LinkRef } from './types.ts';

export function linkDesc(ref: LinkRef): string {
  return typeof ref === 'number' ? `ifindex ${ref}` : ref;
}

export function addrDesc(linkIndex: number, a: AddrSpec): string {
  return `${a.ip.toString()}/${a.prefix} dev ${linkIndex}`;
}

export function routeDesc(r: { dst: Cidr; gateway?: IPAddress; linkIndex?: number; onlink?: boolean; table?: number }): string {
  let s = r.dst.toString();
  if (r.gateway) s += ` via ${r.gateway.toString()}`;
  if (r.linkIndex !== undefined) s += ` dev ${r.linkIndex}`;
  if (r.onlink) s += ' onlink';
  if (r.table !== undefined && r.table !== MAIN_TABLE) s += ` table ${r.table}`;
  return s;
}

export function neighborDesc(n: { linkIndex: number; ip: IPAddress; mac?: string }): string {
  return n.mac ? `${n.ip.toString()} lladdr ${n.mac} dev ${n.linkIndex}` : `${n.ip.toString()} dev ${n.linkIndex}`;
}

export function fdbDesc(e: FdbSpec): string {
  return `${e.mac} dst ${e.dst.toString()} dev ${e.linkIndex}`;
}
