/**
 * @module ip/address
 * IPv4 and IPv6 addresses as immutable BigInt values. Parsing is strict: no zone ids, no
 * leading-zero octets (ambiguous: octal in some tools), no IPv4-mapped shorthand surprises.
 */
import { IPParseError } from '../errors/index.ts';

export type Family = 4 | 6;

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function familyBits(family: Family): number {
  return BITS[family];
}

export class IPAddress {
  readonly family: Family;
  readonly value: bigint;

  private constructor(family: Family, value: bigint) {
    this.family = family;
    this.value = value;
  }

  static fromBigInt(family: Family, value: bigint): IPAddress {
    const max = (1n << BigInt(BITS[family])) - 1n;
    if (value < 0n || value > max) {
      throw new IPParseError('E_IP_RANGE', `value ${value} does not fit an IPv${family} address`);
    }
    return new IPAddress(family, value);
  }

  static parse(text: string): IPAddress {
    const v4 = parseIPv4(text);
    if (v4 !== undefined) return new IPAddress(4, v4);
    const v6 = parseIPv6(text);
    if (v6 !== undefined) return new IPAddress(6, v6);
    throw new IPParseError('E_IP_SYNTAX', `"${text}" is not an IPv4 or IPv6 address`);
  }

  /** Returns undefined instead of throwing. */
  static tryParse(text: string): IPAddress | undefined {
    try {
      return IPAddress.parse(text);
    } catch {
      return undefined;
    }
  }

  static fromBytes(bytes: Uint8Array): IPAddress {
    if (bytes.length !== 4 && bytes.length !== 16) {
      throw new IPParseError('E_IP_BYTES', `an IP address has 4 or 16 bytes, not ${bytes.length}`);
    }
    let v = 0n;
    for (const b of bytes) v = (v << 8n) | BigInt(b);
    return new IPAddress(bytes.length === 4 ? 4 : 6, v);
  }

  get bits(): number {
    return BITS[this.family];
  }

  /** Writes the address in network byte order at `offset` (4 or 16 bytes), without allocating. */
  writeBytes(target: Uint8Array, offset: number): void {
    if (this.family === 4) {
      const v = Number(this.value);
      target[offset] = v >>> 24;
      target[offset + 1] = (v >>> 16) & 0xff;
      target[offset + 2] = (v >>> 8) & 0xff;
      target[offset + 3] = v & 0xff;
      return;
    }
    const view = new DataView(target.buffer, target.byteOffset + offset, 16);
    view.setBigUint64(0, this.value >> 64n);
    view.setBigUint64(8, BigInt.asUintN(64, this.value));
  }

  toBytes(): Buffer {
    const n = this.bits / 8;
    const out = Buffer.alloc(n);
    let v = this.value;
    for (let i = n - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  add(delta: bigint | number): IPAddress {
    return IPAddress.fromBigInt(this.family, this.value + BigInt(delta));
  }

  equals(other: IPAddress): boolean {
    return this.family === other.family && this.value === other.value;
  }

  compare(other: IPAddress): number {
    if (this.family !== other.family) return this.family - other.family;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  isMulticast(): boolean {
    return this.family === 4 ? this.value >> 28n === 0xen : this.value >> 120n === 0xffn;
  }

  isLoopback(): boolean {
    return this.family === 4 ? this.value >> 24n === 127n : this.value === 1n;
  }

  isLinkLocalUnicast(): boolean {
    return this.family === 4 ? this.value >> 16n === 0xa9fen : this.value >> 118n === 0x3fan;
  }

  toString(): string {
    return this.family === 4 ? formatIPv4(this.value) : formatIPv6(this.value);
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * "0" to "999" without a leading zero, as a number; undefined for anything else. Digit by digit:
 * the compiled CNI plugin parses a few addresses per call and otherwise uses no regular
 * expression, whose engine costs it page faults on first use.
 */
export function shortDecimal(text: string): number | undefined {
  if (text.length === 0 || text.length > 3 || (text.length > 1 && text.charCodeAt(0) === 48)) return undefined;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    const n = shortDecimal(p);
    if (n === undefined || n > 255) return undefined;
    v = v * 256 + n;
  }
  return BigInt(v);
}

function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length < 2) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const splitGroups = (s: string): string[] | undefined => {
    if (s === '') return [];
    const g = s.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const left = splitGroups(dbl[0] ?? '');
  const right = dbl.length === 2 ? splitGroups(dbl[1] ?? '') : [];
  if (!left || !right) return undefined;
  let groups: string[];
  if (dbl.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

function formatIPv4(v: bigint): string {
  const n = Number(v);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** RFC 5952: lower case, longest run (>=2) of zero groups compressed, first on ties. */
function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}
