/**
 * @module subnet/etcd/expirations
 * When a stored lease expires. etcd keeps the TTL on the etcd lease, not on the key, so this
 * costs one LeaseTimeToLive call per etcd lease; flannel never keeps leases alive (it re-puts
 * keys with fresh leases), so an etcd lease's expiry never moves and is cached by lease id.
 */
import type { KeyValue, Registry } from './registry.ts';

const MAX_CACHED = 50_000;

export class ExpirationCache {
  readonly #registry: Registry;
  readonly #now: () => number;
  readonly #expiresAt = new Map<string, number>();

  constructor(registry: Registry, now: () => number) {
    this.#registry = registry;
    this.#now = now;
  }

  /** Records a lease we granted ourselves, saving the lookup. */
  remember(leaseId: string, expiresAt: Date): void {
    this.#set(leaseId, expiresAt.getTime());
  }

  /** undefined for a key without an etcd lease (a reservation). */
  async of(kv: Pick<KeyValue, 'leaseId'>, signal: AbortSignal): Promise<Date | undefined> {
    if (kv.leaseId === '0') return undefined;
    const cached = this.#expiresAt.get(kv.leaseId);
    if (cached !== undefined) return new Date(cached);
    const ttl = await this.#registry.leaseTimeToLive(kv.leaseId, signal);
    // A lease gone between listing and this lookup has expired: its key is about to vanish.
    const at = this.#now() + (ttl ?? 0) * 1000;
    this.#set(kv.leaseId, at);
    return new Date(at);
  }

  /**
   * Without a round trip: the exact expiry when known, else the latest it can be (flannel grants
   * every lease with the full TTL). undefined for a reservation. Peers' expiries are only shown,
   * never acted on, so the watch uses this instead of one LeaseTimeToLive call per peer (that
   * was 3 s of a 5000-peer start).
   */
  bound(kv: Pick<KeyValue, 'leaseId'>, ttlSeconds: number): Date | undefined {
    if (kv.leaseId === '0') return undefined;
    return new Date(this.#expiresAt.get(kv.leaseId) ?? this.#now() + ttlSeconds * 1000);
  }

  #set(leaseId: string, at: number): void {
    this.#expiresAt.delete(leaseId);
    this.#expiresAt.set(leaseId, at);
    if (this.#expiresAt.size > MAX_CACHED) {
      const oldest = this.#expiresAt.keys().next().value;
      if (oldest !== undefined) this.#expiresAt.delete(oldest);
    }
  }
}
