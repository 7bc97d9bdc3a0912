/**
 * @module subnet/etcd/keys
 * Upstream's key layout: `<prefix>/config` and `<prefix>/subnets/<subnet key>`, and the decoding
 * of a stored entry into a lease. A key or value we cannot read is reported, never fatal.
 */
import { describeError } from '../../errors/index.ts';
import { parseSubnetKey, subnetKey, type SubnetPair } from '../../ip/index.ts';
import { decodeLeaseAttrs, type Lease, type LeaseAttrs, type LeaseDraft } from '../../lease/index.ts';
import type { KeyValue } from './registry.ts';

export class KeyLayout {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  get configKey(): string {
    return `${this.prefix}/config`;
  }

  get subnetsPrefix(): string {
    return `${this.prefix}/subnets/`;
  }

  leaseKey(pair: SubnetPair): string {
    return this.subnetsPrefix + subnetKey(pair);
  }

  /** The subnet pair named by a key under subnets/, or undefined for anything else. */
  pairOf(key: string): SubnetPair | undefined {
    if (!key.startsWith(this.subnetsPrefix)) return undefined;
    try {
      return parseSubnetKey(key.slice(this.subnetsPrefix.length));
    } catch {
      return undefined;
    }
  }
}

/** One stored key under subnets/, decoded as far as possible. */
export interface Entry {
  readonly kv: KeyValue;
  /** The subnets the key names; undefined when the key is not a subnet key. */
  readonly pair: SubnetPair | undefined;
  /** The decoded value; undefined when it is not a lease value. */
  readonly attrs: LeaseAttrs | undefined;
  /** Why the entry is unusable, for a warning. */
  readonly problem: string | undefined;
}

export function decodeEntry(layout: KeyLayout, kv: KeyValue): Entry {
  const pair = layout.pairOf(kv.key);
  if (!pair) return { kv, pair, attrs: undefined, problem: `key ${kv.key} is not a subnet key such as 10.5.52.0-24` };
  try {
    return { kv, pair, attrs: decodeLeaseAttrs(kv.value, `etcd key ${kv.key}`), problem: undefined };
  } catch (err) {
    return { kv, pair, attrs: undefined, problem: describeError(err) };
  }
}

export function isReservationKv(kv: KeyValue): boolean {
  return kv.leaseId === '0';
}

export function toLease(pair: SubnetPair, attrs: LeaseAttrs, kv: Pick<KeyValue, 'modRevision'>, expiration: Date | undefined): Lease {
  const lease: LeaseDraft<Lease> = { attrs, revision: kv.modRevision };
  if (pair.v4) lease.subnet = pair.v4;
  if (pair.v6) lease.ipv6Subnet = pair.v6;
  if (expiration) lease.expiration = expiration;
  return lease;
}

export function pairOfLease(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): SubnetPair {
  return { ...(lease.subnet ? { v4: lease.subnet } : {}), ...(lease.ipv6Subnet ? { v6: lease.ipv6Subnet } : {}) };
}
