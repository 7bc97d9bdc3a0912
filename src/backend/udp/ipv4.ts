/**
 * @module backend/udp/ipv4
 * The few IPv4 header operations the packet path makes, on bytes in place: upstream's TTL
 * decrement with the incremental checksum update (RFC 1624), and its ICMP "network unreachable"
 * for a packet no peer's subnet holds.
 */

export const IPV4_HEADER = 20;
const MAX_IP_OPTIONS = 40;
const PROTO_ICMP = 1;
const ICMP_DEST_UNREACH = 3;
const ICMP_NET_UNREACH = 0;
/** Upstream's TTL for the ICMP it sends. */
const ICMP_TTL = 8;

/** The destination address of the packet at `off`, as int32. */
export function destinationOf(b: Uint8Array, off: number): number {
  return ((b[off + 16] as number) << 24) | ((b[off + 17] as number) << 16) | ((b[off + 18] as number) << 8) | (b[off + 19] as number);
}

/** Whether `len` bytes at `off` start an IPv4 packet that fits them (version 4, header and total length). */
export function isIpv4(b: Uint8Array, off: number, len: number): boolean {
  if (len < IPV4_HEADER) return false;
  const v = b[off] as number;
  if (v >> 4 !== 4 || (v & 0x0f) * 4 < IPV4_HEADER) return false;
  const total = ((b[off + 2] as number) << 8) | (b[off + 3] as number);
  return total >= IPV4_HEADER && total <= len;
}

/**
 * Decrements the TTL and patches the header checksum; false when the TTL runs out (the packet is
 * then dropped, as upstream does, without an ICMP time exceeded).
 */
export function decrementTtl(b: Uint8Array, off: number): boolean {
  const ttl = b[off + 8] as number;
  if (ttl <= 1) return false;
  b[off + 8] = ttl - 1;
  // The TTL is the high byte of a 16-bit word: the word went down by 0x100, so the one's
  // complement checksum goes up by 0x100, with the end-around carry.
  let sum = (((b[off + 10] as number) << 8) | (b[off + 11] as number)) + 0x100;
  if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  b[off + 10] = sum >> 8;
  b[off + 11] = sum & 0xff;
  return true;
}

/** The one's complement sum of `len` bytes at `off` (an even count), folded and inverted. */
export function checksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += ((b[off + i] as number) << 8) | (b[off + i + 1] as number);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Room for the largest reply: IP header, ICMP header, the offender's header (with options) and 8 bytes. */
export const ICMP_REPLY_MAX = IPV4_HEADER + 8 + IPV4_HEADER + MAX_IP_OPTIONS + 8;

/**
 * Writes into `out` upstream's ICMP "destination unreachable / network unreachable" for the
 * packet at `off` (from `source`, int32: not an address of this node, or the kernel drops the
 * reply as a martian); its length, or 0 when none is due: the packet is ICMP itself (RFC 792: no
 * ICMP about ICMP), a later fragment, or has a header too long or short.
 */
export function netUnreachable(out: Uint8Array, b: Uint8Array, off: number, len: number, source: number): number {
  const ihl = ((b[off] as number) & 0x0f) * 4;
  if (ihl < IPV4_HEADER || ihl >= IPV4_HEADER + MAX_IP_OPTIONS || len < ihl + 8) return 0;
  if (b[off + 9] === PROTO_ICMP) return 0;
  if (((((b[off + 6] as number) << 8) | (b[off + 7] as number)) & 0x1fff) !== 0) return 0;
  const quoted = ihl + 8;
  const total = IPV4_HEADER + 8 + quoted;
  out.fill(0, 0, total);
  out[0] = 0x45;
  out[2] = total >> 8;
  out[3] = total & 0xff;
  out[8] = ICMP_TTL;
  out[9] = PROTO_ICMP;
  out[12] = source >>> 24;
  out[13] = (source >>> 16) & 0xff;
  out[14] = (source >>> 8) & 0xff;
  out[15] = source & 0xff;
  for (let i = 0; i < 4; i++) out[16 + i] = b[off + 12 + i] as number; // back to the offender's source
  const ipSum = checksum(out, 0, IPV4_HEADER);
  out[10] = ipSum >> 8;
  out[11] = ipSum & 0xff;
  out[IPV4_HEADER] = ICMP_DEST_UNREACH;
  out[IPV4_HEADER + 1] = ICMP_NET_UNREACH;
  for (let i = 0; i < quoted; i++) out[IPV4_HEADER + 8 + i] = b[off + i] as number;
  // quoted is a multiple of 4, so the ICMP part has an even length.
  const icmpSum = checksum(out, IPV4_HEADER, 8 + quoted);
  out[IPV4_HEADER + 2] = icmpSum >> 8;
  out[IPV4_HEADER + 3] = icmpSum & 0xff;
  return total;
}
