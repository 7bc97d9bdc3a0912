/**
 * @module subnet/etcd/manager
 * SubnetManager over etcd, wire-compatible with upstream flanneld sharing the same prefix:
 * config at `<prefix>/config`, leases at `<prefix>/subnets/<key>` with upstream's JSON value.
 */
import { parseNetworkConfig, type NetworkConfig } from '../../config/index.ts';
import { DatastoreError, isAbortError } from '../../errors/index.ts';
import { sleep } from '../../async/index.ts';
import { silentLogger } from '../../log/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { AcquireOptions, SubnetManager, WatchResult } from '../manager.ts';
import { acquireLease } from './acquire.ts';
import type { ManagerContext } from './context.ts';
import { EtcdRegistry } from './etcd-registry.ts';
import { ExpirationCache } from './expirations.ts';
import { KeyLayout } from './keys.ts';
import { DEFAULT_LEASE_TTL_SECONDS, DEFAULT_REQUEST_TIMEOUT_MS, normalisePrefix, type EtcdSubnetManagerOptions } from './options.ts';
import { renewLease } from './renew.ts';
import { watchLeases } from './watch.ts';

export class EtcdSubnetManager implements SubnetManager {
  readonly name = 'etcd';
  readonly #ctx: ManagerContext;
  /** Ends running watches on close(). */
  readonly #closing = new AbortController();
  /** The configuration as getNetworkConfig last read it, where watchNetworkConfig starts from. */
  #configRead: { text: string; revision: string } | undefined;

  constructor(options: EtcdSubnetManagerOptions) {
    const registry = options.registry ?? new EtcdRegistry(options);
    const now = options.now ?? Date.now;
    const ttlSeconds = options.leaseTTLSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`leaseTTLSeconds must be a positive whole number, not ${ttlSeconds}`);
    this.#ctx = {
      registry,
      layout: new KeyLayout(normalisePrefix(options.prefix)),
      ttlSeconds,
      log: options.log ?? silentLogger,
      now,
      random: options.random ?? Math.random,
      expirations: new ExpirationCache(registry, now),
      retry: { initialMs: options.retry?.initialMs ?? 250, maxMs: options.retry?.maxMs ?? 10_000 },
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      watchState: options.onWatchState ?? (() => undefined),
    };
  }

  /** The key prefix in use, e.g. "/coreos.com/network". */
  get prefix(): string {
    return this.#ctx.layout.prefix;
  }

  async getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    const { registry, layout } = this.#ctx;
    const key = layout.configKey;
    const { kv, revision } = await registry.get(key, signal);
    if (!kv) {
      throw new DatastoreError('E_CONFIG_MISSING', `the network configuration is missing: etcd key ${key} does not exist at ${registry.endpoints.join(', ')}`, {
        hint: `write it, e.g. etcdctl put ${key} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}' (or check --etcd-prefix)`,
      });
    }
    const config = parseNetworkConfig(kv.value, { source: `etcd key ${key}` });
    this.#configRead = { text: kv.value, revision };
    return config;
  }

  async *watchNetworkConfig(signal: AbortSignal): AsyncGenerator<{ text: string | undefined; source: string }> {
    const all = AbortSignal.any([signal, this.#closing.signal]);
    const { registry, layout } = this.#ctx;
    const key = layout.configKey;
    const source = `etcd key ${key}`;
    let last: string | undefined = this.#configRead?.text;
    let from = this.#configRead ? (BigInt(this.#configRead.revision) + 1n).toString() : undefined;
    while (!all.aborted) {
      try {
        if (from === undefined) {
          // First start or after a break (compaction, outage): compare what is there now.
          const { kv, revision } = await registry.get(key, all);
          if (kv?.value !== last) {
            last = kv?.value;
            yield { text: last, source };
          }
          from = (BigInt(revision) + 1n).toString();
        }
        for await (const batch of registry.watch(key, from, all)) {
          for (const ev of batch.events) {
            if (ev.kv.key !== key) continue;
            const text = ev.type === 'put' ? ev.kv.value : undefined;
            if (text === last) continue;
            last = text;
            yield { text, source };
          }
          from = (BigInt(batch.revision) + 1n).toString();
        }
      } catch (err) {
        if (all.aborted || isAbortError(err)) return;
        from = undefined;
        await sleep(5000, all).catch(() => undefined);
      }
    }
  }

  async acquireLease(options: AcquireOptions): Promise<Lease> {
    return await acquireLease(this.#ctx, options);
  }

  async renewLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    return await renewLease(this.#ctx, lease, signal);
  }

  watchLeases(signal: AbortSignal): AsyncIterable<WatchResult> {
    return watchLeases(this.#ctx, AbortSignal.any([signal, this.#closing.signal]));
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.#ctx.registry.close();
  }
}
