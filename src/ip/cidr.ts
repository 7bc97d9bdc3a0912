/**
 * @module ip/cidr
 * A CIDR block (network address + prefix length). Always normalised: host bits are zero.
 */
import { IPParseError } from '../errors/index.ts';
import { IPAddress, familyBits, shortDecimal, type Family } from './address.ts';

export class Cidr {
  readonly ip: IPAddress;
  readonly prefix: number;

  private constructor(ip: IPAddress, prefix: number) {
    this.ip = ip;
    this.prefix = prefix;
  }

  /** Builds a CIDR, masking host bits of `ip`. */
  static of(ip: IPAddress, prefix: number): Cidr {
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > ip.bits) {
      throw new IPParseError('E_CIDR_PREFIX', `prefix length ${prefix} is out of range for IPv${ip.family} (0-${ip.bits})`);
    }
    return new Cidr(IPAddress.fromBigInt(ip.family, ip.value & maskOf(ip.family, prefix)), prefix);
  }

  /**
   * Parses "a.b.c.d/n" or "x::/n". With `strict`, host bits must be zero (as a Network should be);
   * otherwise they are masked off, like Go's net.ParseCIDR network result.
   */
  static parse(text: string, options: { strict?: boolean } = {}): Cidr {
    const slash = text.indexOf('/');
    if (slash < 0) throw new IPParseError('E_CIDR_SYNTAX', `"${text}" is not in CIDR notation (address/prefix-length)`);
    const ip = IPAddress.parse(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    const prefix = shortDecimal(prefixText);
    if (prefix === undefined) {
      throw new IPParseError('E_CIDR_SYNTAX', `"${text}" has an invalid prefix length "${prefixText}"`);
    }
    const cidr = Cidr.of(ip, prefix);
    if (options.strict && !cidr.ip.equals(ip)) {
      throw new IPParseError('E_CIDR_HOST_BITS', `"${text}" has host bits set; the network address is ${cidr.toString()}`);
    }
    return cidr;
  }

  static tryParse(text: string): Cidr | undefined {
    try {
      return Cidr.parse(text);
    } catch {
      return undefined;
    }
  }

  get family(): Family {
    return this.ip.family;
  }

  /** Number of addresses in the block. */
  get size(): bigint {
    return 1n << BigInt(this.ip.bits - this.prefix);
  }

  get mask(): bigint {
    return maskOf(this.family, this.prefix);
  }

  get last(): IPAddress {
    return this.ip.add(this.size - 1n);
  }

  /** The first usable host address (network + 1), as written to subnet.env. */
  get firstHost(): IPAddress {
    return this.prefix >= this.ip.bits ? this.ip : this.ip.add(1n);
  }

  contains(ip: IPAddress): boolean {
    return ip.family === this.family && (ip.value & this.mask) === this.ip.value;
  }

  /** True when `other` lies entirely inside this block. */
  containsCidr(other: Cidr): boolean {
    return other.family === this.family && other.prefix >= this.prefix && this.contains(other.ip);
  }

  overlaps(other: Cidr): boolean {
    return this.containsCidr(other) || other.containsCidr(this);
  }

  /** The next block of the same size (wraps are an error). */
  next(): Cidr {
    return new Cidr(this.ip.add(this.size), this.prefix);
  }

  /** The n-th block of length `prefix` inside this one (0-based). */
  subnetAt(prefix: number, index: bigint): Cidr {
    if (prefix < this.prefix) throw new IPParseError('E_CIDR_PREFIX', `a /${prefix} does not fit inside ${this.toString()}`);
    const count = 1n << BigInt(prefix - this.prefix);
    if (index < 0n || index >= count) throw new IPParseError('E_CIDR_RANGE', `subnet index ${index} is outside ${this.toString()}`);
    return new Cidr(this.ip.add(index << BigInt(this.ip.bits - prefix)), prefix);
  }

  equals(other: Cidr): boolean {
    return this.prefix === other.prefix && this.ip.equals(other.ip);
  }

  compare(other: Cidr): number {
    return this.ip.compare(other.ip) || this.prefix - other.prefix;
  }

  toString(): string {
    return `${this.ip.toString()}/${this.prefix}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function maskOf(family: Family, prefix: number): bigint {
  const bits = familyBits(family);
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}
