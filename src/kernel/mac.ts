/**
 * @module kernel/mac
 * Ethernet addresses as flannel stores them: lower-case "aa:bb:cc:dd:ee:ff".
 */
import { randomBytes } from 'node:crypto';
import { KernelError } from '../errors/index.ts';
import type { Mac } from './types.ts';

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function isMac(text: string): boolean {
  return MAC_RE.test(text);
}

/** Normalises a MAC to lower case, or throws. */
export function normalizeMac(text: string): Mac {
  if (!isMac(text)) throw new KernelError('E_MAC_SYNTAX', `"${text}" is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  return text.toLowerCase();
}

export function macToBytes(mac: Mac): Buffer {
  return Buffer.from(normalizeMac(mac).split(':').map((h) => parseInt(h, 16)));
}

/** Writes the 6 bytes of a MAC at `offset` (validated like macToBytes), without allocating. */
export function writeMac(mac: Mac, target: Uint8Array, offset: number): void {
  if (!isMac(mac)) normalizeMac(mac); // throws the usual error
  for (let i = 0; i < 6; i++) target[offset + i] = parseInt(mac.slice(i * 3, i * 3 + 2), 16);
}

/** Formats any hardware address; empty for none. */
export function bytesToMac(bytes: Uint8Array | undefined): Mac {
  if (!bytes) return '';
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A random locally administered unicast MAC, as upstream gives a new VTEP. */
export function randomMac(): Mac {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return bytesToMac(b);
}
