/**
 * @module backend/udp/testing/packets
 * IPv4 packets for the udp backend's tests, with correct header checksums.
 */
import { checksum } from '../ipv4.ts';

export interface PacketSpec {
  readonly src: string;
  readonly dst: string;
  /** 1 ICMP, 6 TCP, 17 UDP (default). */
  readonly proto?: number;
  readonly ttl?: number;
  readonly payload?: number;
  /** Fragment offset in 8-byte units (default 0). */
  readonly fragmentOffset?: number;
}

const octets = (ip: string): number[] => ip.split('.').map(Number);

export function ipv4Packet(p: PacketSpec): Uint8Array {
  const payload = p.payload ?? 32;
  const total = 20 + payload;
  const b = new Uint8Array(total);
  b[0] = 0x45;
  b[2] = total >> 8;
  b[3] = total & 0xff;
  b[4] = 0x12;
  b[5] = 0x34;
  const frag = p.fragmentOffset ?? 0;
  b[6] = (frag >> 8) & 0x1f;
  b[7] = frag & 0xff;
  b[8] = p.ttl ?? 64;
  b[9] = p.proto ?? 17;
  b.set(octets(p.src), 12);
  b.set(octets(p.dst), 16);
  const sum = checksum(b, 0, 20);
  b[10] = sum >> 8;
  b[11] = sum & 0xff;
  for (let i = 20; i < total; i++) b[i] = i & 0xff;
  return b;
}

/** Whether the IPv4 header checksum of `b` is right (the sum over a correct header is 0). */
export function headerChecksumOk(b: Uint8Array): boolean {
  return checksum(b, 0, ((b[0] as number) & 0x0f) * 4) === 0;
}

export const addressAt = (b: Uint8Array, off: number): string => [...b.subarray(off, off + 4)].join('.');
