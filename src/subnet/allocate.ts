/**
 * @module subnet/allocate
 * Picks a free per-node subnet in [SubnetMin, SubnetMax], as upstream does: at random among the
 * first ~100 free candidates (so racing nodes rarely collide). Dual stack picks the IPv4 and IPv6
 * subnets in lockstep (the n-th of each pool). Works on interval arithmetic over the taken
 * subnets, never by enumerating the pool, so a /64-per-node IPv6 pool of 2^56 subnets is fine.
 */
import type { NetworkConfig, SubnetPool } from '../config/index.ts';
import { LeaseError } from '../errors/index.ts';
import { Cidr, IPAddress, type SubnetPair } from '../ip/index.ts';

export const DEFAULT_CANDIDATES = 100;

export interface AllocateOptions {
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
  /** How many free subnets to choose among (upstream: 100). */
  candidates?: number;
  /** Number of leases in the datastore, for the exhaustion message. */
  leaseCount?: number;
  /** How an operator removes a stale lease, for the exhaustion hint (e.g. an etcdctl command). */
  removeHint?: string;
  /** The node's own networks, counted in `taken`: named in the exhaustion message. */
  hostNetworks?: ReadonlyArray<{ readonly cidr: Cidr; readonly device: string }>;
}

type Pools = Pick<NetworkConfig, 'v4' | 'v6'>;

/** True when `cidr` is a lease-able subnet of `pool`: right length, within [SubnetMin, SubnetMax]. */
export function isSubnetInPool(pool: SubnetPool, cidr: Cidr): boolean {
  return (
    cidr.family === pool.network.family &&
    cidr.prefix === pool.subnetLen &&
    cidr.ip.compare(pool.subnetMin.ip) >= 0 &&
    cidr.ip.compare(pool.subnetMax.ip) <= 0
  );
}

/** True when `pair` has exactly the families the config enables, each inside its pool. */
export function isPairInPools(pools: Pools, pair: SubnetPair): boolean {
  const fits = (pool: SubnetPool | undefined, cidr: Cidr | undefined): boolean =>
    pool === undefined ? cidr === undefined : cidr !== undefined && isSubnetInPool(pool, cidr);
  return (pools.v4 !== undefined || pools.v6 !== undefined) && fits(pools.v4, pair.v4) && fits(pools.v6, pair.v6);
}

/** True when any subnet of `pair` overlaps a subnet of the same family in `taken`. */
export function overlapsTaken(pair: SubnetPair, taken: Iterable<SubnetPair>): boolean {
  for (const t of taken) {
    if (pair.v4 && t.v4?.overlaps(pair.v4)) return true;
    if (pair.v6 && t.v6?.overlaps(pair.v6)) return true;
  }
  return false;
}

interface Interval {
  lo: bigint;
  hi: bigint;
}

function hostBits(pool: SubnetPool): bigint {
  return BigInt(pool.network.ip.bits - pool.subnetLen);
}

/** Number of subnets in [SubnetMin, SubnetMax]. */
function poolSize(pool: SubnetPool): bigint {
  return ((pool.subnetMax.ip.value - pool.subnetMin.ip.value) >> hostBits(pool)) + 1n;
}

/** The pool indices (0 = SubnetMin) a taken block covers, or undefined when it misses the pool. */
function takenInterval(pool: SubnetPool, cidr: Cidr): Interval | undefined {
  if (cidr.family !== pool.network.family) return undefined;
  const first = pool.subnetMin.ip.value;
  const last = pool.subnetMax.last.value;
  const lo = cidr.ip.value > first ? cidr.ip.value : first;
  const end = cidr.last.value < last ? cidr.last.value : last;
  if (lo > end) return undefined;
  const shift = hostBits(pool);
  return { lo: (lo - first) >> shift, hi: (end - first) >> shift };
}

function subnetAt(pool: SubnetPool, index: bigint): Cidr {
  return Cidr.of(IPAddress.fromBigInt(pool.network.family, pool.subnetMin.ip.value + (index << hostBits(pool))), pool.subnetLen);
}

/**
 * The first `limit` free subnet pairs in pool order. For dual stack, index i means the i-th
 * subnet of both pools, and is free only when both are.
 */
export function freeCandidates(pools: Pools, taken: Iterable<SubnetPair>, limit = DEFAULT_CANDIDATES): SubnetPair[] {
  const active = [pools.v4, pools.v6].filter((p): p is SubnetPool => p !== undefined);
  if (active.length === 0) return [];
  const size = active.map(poolSize).reduce((a, b) => (a < b ? a : b));
  const intervals: Interval[] = [];
  for (const t of taken) {
    for (const [pool, cidr] of [
      [pools.v4, t.v4],
      [pools.v6, t.v6],
    ] as const) {
      if (!pool || !cidr) continue;
      const iv = takenInterval(pool, cidr);
      if (iv) intervals.push(iv);
    }
  }
  intervals.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));

  const out: SubnetPair[] = [];
  const emit = (i: bigint): void => {
    out.push({
      ...(pools.v4 ? { v4: subnetAt(pools.v4, i) } : {}),
      ...(pools.v6 ? { v6: subnetAt(pools.v6, i) } : {}),
    });
  };
  let next = 0n;
  for (const iv of intervals) {
    if (out.length >= limit || next >= size) break;
    for (let i = next; i < iv.lo && i < size && out.length < limit; i++) emit(i);
    if (iv.hi + 1n > next) next = iv.hi + 1n;
  }
  for (let i = next; i < size && out.length < limit; i++) emit(i);
  return out;
}

/** Picks a free subnet (pair); throws LeaseError E_POOL_EXHAUSTED when none is left. */
export function allocateSubnets(pools: Pools, taken: Iterable<SubnetPair>, options: AllocateOptions = {}): SubnetPair {
  const candidates = freeCandidates(pools, taken, options.candidates ?? DEFAULT_CANDIDATES);
  if (candidates.length === 0) throw exhausted(pools, options);
  const random = options.random ?? Math.random;
  const pick = Math.min(candidates.length - 1, Math.floor(random() * candidates.length));
  return candidates[pick] as SubnetPair;
}

function describePool(pool: SubnetPool, v6: boolean): string {
  const k = v6 ? 'IPv6' : '';
  return (
    `${v6 ? 'IPv6Network' : 'Network'} ${pool.network.toString()} with ${k}SubnetLen ${pool.subnetLen} ` +
    `(${poolSize(pool)} subnet${poolSize(pool) === 1n ? '' : 's'} from ${k}SubnetMin ${pool.subnetMin.ip.toString()} to ${k}SubnetMax ${pool.subnetMax.ip.toString()})`
  );
}

function exhausted(pools: Pools, options: AllocateOptions): LeaseError {
  const parts: string[] = [];
  if (pools.v4) parts.push(describePool(pools.v4, false));
  if (pools.v6) parts.push(describePool(pools.v6, true));
  const count = options.leaseCount === undefined ? '' : `; ${options.leaseCount} lease${options.leaseCount === 1 ? '' : 's'} exist`;
  const lockstep = pools.v4 && pools.v6 ? ' (dual stack takes the n-th subnet of both pools together)' : '';
  const inPools = (options.hostNetworks ?? []).filter((h) => (h.cidr.family === 4 ? pools.v4 : pools.v6)?.network.overlaps(h.cidr));
  const host = inPools.length > 0 ? `; subnets overlapping this node's own networks (${inPools.map((h) => `${h.cidr.toString()} on ${h.device}`).join(', ')}) are never leased` : '';
  const remove = options.removeHint ?? 'remove stale leases from the datastore';
  return new LeaseError('E_POOL_EXHAUSTED', `no free subnet left in ${parts.join(' and ')}${count}${lockstep}${host}`, {
    hint:
      'make room: use a bigger Network, a longer SubnetLen (smaller per-node subnets, e.g. 25 instead of 24), ' +
      `or a wider SubnetMin..SubnetMax; or ${remove}`,
  });
}
