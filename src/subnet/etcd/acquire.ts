/**
 * @module subnet/etcd/acquire
 * Lease acquisition, in upstream's order of preference: (a) an entry (lease or reservation)
 * already carrying this node's public IP, still inside the configured pools; (b) the subnet from
 * subnet.env, if nobody else holds it; (c) a random free subnet. Every write is a transaction on
 * what we read, so a lost race is retried on a fresh listing instead of overwriting a peer.
 */
import type { NetworkConfig } from '../../config/index.ts';
import { LeaseError } from '../../errors/index.ts';
import type { SubnetPair } from '../../ip/index.ts';
import { encodeLeaseAttrs, type Lease, type LeaseAttrs } from '../../lease/index.ts';
import { allocateSubnets, isPairInPools, overlapsTaken } from '../allocate.ts';
import { hostNetworkClash, type AcquireOptions, type HostNetwork } from '../manager.ts';
import { revokeQuietly, type ManagerContext } from './context.ts';
import { decodeEntry, isReservationKv, toLease, type Entry } from './keys.ts';

export const RACE_RETRIES = 10;

export async function acquireLease(ctx: ManagerContext, options: AcquireOptions): Promise<Lease> {
  checkAttrs(options.config, options.attrs);
  for (let attempt = 1; attempt <= RACE_RETRIES; attempt++) {
    const lease = await tryAcquire(ctx, options);
    if (lease) return lease;
    ctx.log.info('another node wrote the subnet we chose first; trying again', { attempt, of: RACE_RETRIES });
  }
  throw new LeaseError('E_LEASE_RACE', `could not acquire a subnet in ${RACE_RETRIES} attempts: other nodes took each chosen subnet first`, {
    hint: `unusual: look for many nodes starting at once with the same public IP, or a tool writing under ${ctx.layout.subnetsPrefix}; flanneld retries`,
  });
}

function checkAttrs(config: NetworkConfig, attrs: LeaseAttrs): void {
  if (config.v4 && !attrs.publicIP) {
    throw new LeaseError('E_LEASE_ATTRS', 'IPv4 is enabled in the network config but this node has no public IPv4 address', {
      hint: 'pick the interface with --iface / --public-ip, or set "EnableIPv4": false',
    });
  }
  if (config.v6 && !attrs.publicIPv6) {
    throw new LeaseError('E_LEASE_ATTRS', 'IPv6 is enabled in the network config but this node has no public IPv6 address', {
      hint: 'pick the interface with --iface / --public-ipv6, or set "EnableIPv6": false',
    });
  }
}

/** Same node: same public IPv4 (public IPv6 when the network is IPv6 only), as upstream matches. */
function sameNode(config: NetworkConfig, a: LeaseAttrs, b: LeaseAttrs): boolean {
  if (config.v4) return a.publicIP !== undefined && b.publicIP !== undefined && a.publicIP.equals(b.publicIP);
  return a.publicIPv6 !== undefined && b.publicIPv6 !== undefined && a.publicIPv6.equals(b.publicIPv6);
}

function describePair(pair: SubnetPair): string {
  return [pair.v4, pair.v6].filter(Boolean).map(String).join(' + ');
}

function holderOf(e: Entry): string {
  const ip = e.attrs?.publicIP ?? e.attrs?.publicIPv6;
  return ip ? `node ${ip.toString()}` : `the unreadable entry ${e.kv.key}`;
}

/** The first of the node's own networks that a subnet pair this node holds collides with, described for a message. */
function hostOverlap(pair: SubnetPair, hostNetworks: readonly HostNetwork[] | undefined): string | undefined {
  const hit = (pair.v4 && hostNetworkClash(pair.v4, hostNetworks, true)) || (pair.v6 && hostNetworkClash(pair.v6, hostNetworks, true));
  return hit ? `${hit.cidr.toString()} on ${hit.device}` : undefined;
}

/** Resolves to undefined when a concurrent writer won. */
async function tryAcquire(ctx: ManagerContext, { config, attrs, hints, hostNetworks, undo, signal }: AcquireOptions): Promise<Lease | undefined> {
  const { registry, layout, log } = ctx;
  const { kvs } = await registry.list(layout.subnetsPrefix, signal);
  const entries = kvs.map((kv) => decodeEntry(layout, kv));
  for (const e of entries) {
    if (e.problem) log.warn(`ignoring unreadable entry ${e.kv.key}; its subnet stays taken: ${e.problem}`, { key: e.kv.key });
  }

  const mine = entries.filter((e) => e.pair && e.attrs && sameNode(config, e.attrs, attrs));
  const clashes = new Map<string, string>();
  for (const e of mine) {
    const clash = hostOverlap(e.pair as SubnetPair, hostNetworks);
    if (clash) clashes.set(e.kv.key, clash);
  }
  const usable = mine
    .filter((e) => isPairInPools(config, e.pair as SubnetPair) && !clashes.has(e.kv.key))
    // Prefer what an operator pinned (a reservation), then the most recently written.
    .sort((a, b) => Number(isReservationKv(b.kv)) - Number(isReservationKv(a.kv)) || Number(BigInt(b.kv.modRevision) - BigInt(a.kv.modRevision)));
  const own = usable[0];
  if (own) return await reuse(ctx, own, attrs, signal);

  const dropped = new Set<string>();
  for (const e of mine) {
    const clash = clashes.get(e.kv.key);
    const why = clash ? `it overlaps this node's own network ${clash}` : 'it is outside the configured network';
    if (isReservationKv(e.kv)) {
      log.warn(`reservation ${e.kv.key} carries this node's public IP but ${why}; leaving it alone`, { key: e.kv.key });
    } else if (await registry.deleteIf(e.kv.key, { modRevision: e.kv.modRevision }, signal)) {
      (clash ? log.warn : log.info).call(log, `deleted this node's old lease ${e.kv.key}: ${why}`, { key: e.kv.key });
      // Its etcd lease held only this key: without the revoke it would linger, keyless, for a day.
      await revokeQuietly(ctx, e.kv.leaseId);
      dropped.add(e.kv.key);
    }
  }
  const held = entries.filter((e) => e.pair && !dropped.has(e.kv.key));
  const taken = held.map((e) => e.pair as SubnetPair);
  for (const h of hostNetworks ?? []) taken.push(h.cidr.family === 4 ? { v4: h.cidr } : { v6: h.cidr });

  let pair: SubnetPair | undefined;
  const previous = previousPair(config, hints?.previous);
  if (previous) {
    const holder = held.find((e) => overlapsTaken(previous, [e.pair as SubnetPair]));
    const clash = hostOverlap(previous, hostNetworks);
    if (!isPairInPools(config, previous)) {
      log.warn(`previous subnet ${describePair(previous)} (from subnet.env) is not in the configured network any more; choosing another`);
    } else if (clash) {
      log.warn(`previous subnet ${describePair(previous)} (from subnet.env) overlaps this node's own network ${clash}; choosing another`);
    } else if (holder) {
      log.warn(`previous subnet ${describePair(previous)} (from subnet.env) is now held by ${holderOf(holder)}; choosing another`, { key: holder.kv.key });
    } else {
      pair = previous;
    }
  }
  pair ??= allocateSubnets(config, taken, {
    random: ctx.random,
    leaseCount: entries.length,
    removeHint: `remove stale leases: list them with \`etcdctl get --prefix ${layout.subnetsPrefix} --keys-only\`, delete one with \`etcdctl del ${layout.subnetsPrefix}<key>\``,
    ...(hostNetworks?.length ? { hostNetworks } : {}),
  });
  const lease = await create(ctx, pair, attrs, signal, pair === previous ? 'previous subnet (from subnet.env)' : 'new subnet');
  if (lease && undo) {
    const key = layout.leaseKey(pair);
    const revision = lease.revision;
    undo.add(`release lease ${key}`, async (undoSignal) => {
      const { kv } = await registry.get(key, undoSignal);
      if (!kv || kv.modRevision !== revision) return; // renewed or taken over since: not ours to delete
      if (await registry.deleteIf(key, { modRevision: revision }, undoSignal)) await revokeQuietly(ctx, kv.leaseId);
    });
  }
  return lease;
}

function previousPair(config: NetworkConfig, previous: SubnetPair | undefined): SubnetPair | undefined {
  if (!previous) return undefined;
  const pair: SubnetPair = {
    ...(config.v4 && previous.v4 ? { v4: previous.v4 } : {}),
    ...(config.v6 && previous.v6 ? { v6: previous.v6 } : {}),
  };
  return pair.v4 || pair.v6 ? pair : undefined;
}

async function reuse(ctx: ManagerContext, entry: Entry, attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined> {
  const { registry, log } = ctx;
  const pair = entry.pair as SubnetPair;
  const key = entry.kv.key;
  const value = encodeLeaseAttrs(attrs);
  if (isReservationKv(entry.kv)) {
    let revision = entry.kv.modRevision;
    if (entry.kv.value !== value) {
      const res = await registry.putIf(key, value, { expect: { modRevision: entry.kv.modRevision } }, signal);
      if (!res.ok) return undefined;
      revision = res.revision;
    }
    log.info(`using reservation ${key} for this node (no expiry)`, { key });
    return toLease(pair, attrs, { modRevision: revision }, undefined);
  }
  const lease = await putWithFreshLease(ctx, key, value, { modRevision: entry.kv.modRevision }, signal);
  if (!lease) return undefined;
  // The key now hangs on the new etcd lease; the old one has nothing left to expire.
  await revokeQuietly(ctx, entry.kv.leaseId);
  log.info(`reusing lease ${key}: it carries this node's public IP`, { key });
  return toLease(pair, attrs, { modRevision: lease.revision }, lease.expiration);
}

async function create(ctx: ManagerContext, pair: SubnetPair, attrs: LeaseAttrs, signal: AbortSignal, what: string): Promise<Lease | undefined> {
  const key = ctx.layout.leaseKey(pair);
  const lease = await putWithFreshLease(ctx, key, encodeLeaseAttrs(attrs), { absent: true }, signal);
  if (!lease) return undefined;
  ctx.log.info(`acquired ${what} ${describePair(pair)}`, { key, expires: lease.expiration.toISOString() });
  return toLease(pair, attrs, { modRevision: lease.revision }, lease.expiration);
}

/** Grants an etcd lease and puts the key on it iff the key is as expected; undefined when it was not. */
export async function putWithFreshLease(
  ctx: ManagerContext,
  key: string,
  value: string,
  expect: { absent: true } | { modRevision: string },
  signal: AbortSignal,
): Promise<{ revision: string; expiration: Date } | undefined> {
  const grant = await ctx.registry.grantLease(ctx.ttlSeconds, signal);
  const expiration = new Date(ctx.now() + grant.ttlSeconds * 1000);
  let revision: string | undefined;
  try {
    const res = await ctx.registry.putIf(key, value, { expect, leaseId: grant.id }, signal);
    revision = res.ok ? res.revision : await landedAnyway(ctx, key, grant.id, signal);
  } catch (err) {
    revision = await landedAnyway(ctx, key, grant.id, signal).catch(() => undefined);
    if (revision === undefined) {
      await revokeQuietly(ctx, grant.id);
      throw err;
    }
  }
  if (revision === undefined) {
    await revokeQuietly(ctx, grant.id);
    return undefined;
  }
  ctx.expirations.remember(grant.id, expiration);
  return { revision, expiration };
}

/**
 * etcd3 retries a transaction whose answer timed out; if the first try had committed, the retry
 * fails its compare and reports a lost race. A key on our brand-new etcd lease can only be our
 * write, and revoking that lease would delete it.
 */
async function landedAnyway(ctx: ManagerContext, key: string, leaseId: string, signal: AbortSignal): Promise<string | undefined> {
  const { kv } = await ctx.registry.get(key, signal);
  return kv?.leaseId === leaseId ? kv.modRevision : undefined;
}
