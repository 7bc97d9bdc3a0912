/**
 * @module subnet/etcd/memory-registry
 * An in-memory etcd for tests, so EtcdSubnetManager's acquire / renew / watch logic runs without
 * an etcd process or root. `MemoryEtcd` is the server: one revision counter bumped by every write
 * (a transaction or a lease expiry is one revision), per-key mod revision and version, etcd
 * leases whose TTL runs on an injected clock, a watch history that can be compacted, and test
 * hooks for outages and broken watch streams. `MemoryRegistry` is one client's `Registry` on it
 * (each EtcdSubnetManager closes its own registry, so every node gets its own client).
 *
 * Failures are the DatastoreErrors EtcdRegistry gives for the same situation, with the same
 * messages (codes and wording from ./errors.ts), so tests of log lines hold for both. Every call
 * yields once to the event loop's microtask queue before it runs, so concurrent callers interleave
 * as they would over a network (two nodes list, then both try to write).
 *
 * Expiry is deterministic: nothing runs by itself. Leases whose time is up are expired at the start
 * of every client call and by `expireDue()`, which a test calls after advancing its clock
 * (ManualClock, or node:test's mock.timers with `now: () => Date.now()`).
 */
import { ClientClosedError } from 'etcd3';
import { DatastoreError } from '../../errors/index.ts';
import { E_ETCD_COMPACTED, E_ETCD_REQUEST, E_ETCD_WATCH, unavailableError } from './errors.ts';
import type { KeyValue, PutOptions, Registry, WatchBatch, WatchEvent } from './registry.ts';

/** A clock that moves only when told to. */
export class ManualClock {
  #now: number;

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.#now = start;
  }

  /** Milliseconds since the epoch (bound: pass it around as a function). */
  readonly now = (): number => this.#now;

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward, not by ${ms} ms`);
    this.#now += ms;
  }
}

export interface MemoryEtcdOptions {
  /** What clients name in messages (default memory://etcd). */
  endpoints?: readonly string[];
  /** Clock of lease expiry, ms since the epoch (default Date.now, read at each use). */
  now?: () => number;
}

interface Stored {
  readonly value: string;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly leaseId: string;
}

interface LeaseRecord {
  readonly ttlSeconds: number;
  readonly expiresAt: number;
  readonly keys: Set<string>;
}

type Item = { batch: WatchBatch } | { error: unknown } | { end: true };

/** One open watch stream. */
class Stream {
  readonly prefix: string;
  readonly what: string;
  readonly client: MemoryRegistry;
  readonly #queue: Item[] = [];
  #wake: (() => void) | undefined;

  constructor(client: MemoryRegistry, prefix: string, what: string) {
    this.client = client;
    this.prefix = prefix;
    this.what = what;
  }

  push(item: Item): void {
    this.#queue.push(item);
    this.wake();
  }

  wake(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The next item, or undefined once `signal` aborted. */
  async next(signal: AbortSignal): Promise<Item | undefined> {
    while (this.#queue.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (this.#wake = resolve));
    if (signal.aborted) return undefined;
    return this.#queue.shift();
  }
}

/** The reason text etcd3 gives for a refused connection (mapped to plain words by errors.ts). */
const CONNECTION_REFUSED = '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED';
/** The reason text for a stream whose connection went away. */
const CONNECTION_DROPPED = '14 UNAVAILABLE: Connection dropped';

const toKv = (key: string, s: Stored): KeyValue => ({
  key,
  value: s.value,
  modRevision: s.modRevision.toString(),
  version: s.version.toString(),
  leaseId: s.leaseId,
});

export class MemoryEtcd {
  readonly endpoints: readonly string[];
  readonly #now: () => number;
  #revision = 1n;
  /** Revisions below this are gone from the watch history. */
  #compacted = 0n;
  readonly #kv = new Map<string, Stored>();
  readonly #leases = new Map<string, LeaseRecord>();
  readonly #history: Array<{ revision: bigint; events: WatchEvent[] }> = [];
  readonly #streams = new Set<Stream>();
  #nextLeaseId = 7_587_869_000_000_000_001n;
  #outage = false;

  constructor(options: MemoryEtcdOptions = {}) {
    this.endpoints = options.endpoints ?? ['memory://etcd'];
    this.#now = options.now ?? (() => Date.now());
  }

  /** A new client: each node (each EtcdSubnetManager) gets its own, as each has its own connection. */
  client(): MemoryRegistry {
    return new MemoryRegistry(this);
  }

  // ---- what a test sees and does (like etcdctl; works during an outage too) ----------------

  /** The current store revision. */
  get revision(): string {
    return this.#revision.toString();
  }

  /** The oldest revision a watch may start from (0: nothing compacted). */
  get compactRevision(): string {
    return this.#compacted.toString();
  }

  get openWatches(): number {
    return this.#streams.size;
  }

  /** Ids of the etcd leases that exist now. */
  leaseIds(): string[] {
    this.expireDue();
    return [...this.#leases.keys()];
  }

  read(key: string): KeyValue | undefined {
    this.expireDue();
    const s = this.#kv.get(key);
    return s ? toKv(key, s) : undefined;
  }

  /** Keys under `prefix`, sorted as etcd sorts them. */
  keys(prefix = ''): string[] {
    this.expireDue();
    return [...this.#kv.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** An unconditional put (etcdctl put), on `leaseId` or on none (a key without TTL). */
  put(key: string, value: string, leaseId?: string): string {
    this.expireDue();
    if (leaseId !== undefined && !this.#leases.has(leaseId)) throw new Error(`etcd lease ${leaseId} does not exist`);
    return this.#commit([{ put: key, value, leaseId: leaseId ?? '0' }]).toString();
  }

  /** An unconditional delete (etcdctl del); false when there was no such key. */
  delete(key: string): boolean {
    this.expireDue();
    if (!this.#kv.has(key)) return false;
    this.#commit([{ del: key }]);
    return true;
  }

  /** Drops the watch history before `revision` (default: the current revision), as `etcdctl compact`. */
  compact(revision: string = this.revision): void {
    const rev = BigInt(revision);
    if (rev > this.#revision) throw new Error(`mvcc: required revision ${rev} is a future revision (current ${this.#revision})`);
    if (rev <= this.#compacted) throw new Error(`mvcc: required revision ${rev} has been compacted`);
    this.#compacted = rev;
    let drop = 0;
    while (drop < this.#history.length && (this.#history[drop] as { revision: bigint }).revision < rev) drop++;
    this.#history.splice(0, drop);
  }

  /** Expires every etcd lease whose time is up (each one revision deleting its keys); their ids. */
  expireDue(): string[] {
    const now = this.#now();
    const due = [...this.#leases].filter(([, l]) => l.expiresAt <= now).map(([id]) => id);
    for (const id of due) this.#revoke(id);
    return due;
  }

  /**
   * While on, every client call fails as with etcd down (E_ETCD_UNAVAILABLE, "connection
   * refused") and open watches break ("the connection was dropped").
   */
  setOutage(on: boolean): void {
    this.#outage = on;
    if (on) this.breakWatches();
  }

  /** Breaks every open watch stream with `error` (default: the connection was dropped); how many. */
  breakWatches(error?: unknown): number {
    const n = this.#streams.size;
    for (const s of this.#streams) s.push({ error: error ?? unavailableError(this.endpoints, s.what, new Error(CONNECTION_DROPPED)) });
    this.#streams.clear();
    return n;
  }

  /** etcd cancels every open watch (E_ETCD_WATCH with `reason`). */
  cancelWatches(reason: string): number {
    const n = this.#streams.size;
    for (const s of this.#streams) s.push({ error: new DatastoreError(E_ETCD_WATCH, `etcd canceled the watch on ${s.prefix}: ${reason}`) });
    this.#streams.clear();
    return n;
  }

  /** Ends every open watch stream without an error (a Registry may; EtcdRegistry reports it as unavailable). */
  endWatches(): number {
    const n = this.#streams.size;
    for (const s of this.#streams) s.push({ end: true });
    this.#streams.clear();
    return n;
  }

  // ---- what clients call (MemoryRegistry checks closed / outage / abort first) -------------

  /** @internal Throws what a client gets while etcd is down. */
  checkAvailable(what: string): void {
    if (this.#outage) throw unavailableError(this.endpoints, what, new Error(`${CONNECTION_REFUSED} ${this.endpoints.join(', ')}`));
  }

  /** @internal */
  rangeOf(key: string): { kv: KeyValue | undefined; revision: string } {
    return { kv: this.read(key), revision: this.revision };
  }

  /** @internal */
  listOf(prefix: string): { kvs: KeyValue[]; revision: string } {
    const kvs = this.keys(prefix).map((k) => toKv(k, this.#kv.get(k) as Stored));
    return { kvs, revision: this.revision };
  }

  /** @internal One transaction: compare, then put (checking the lease only when the compare held, as etcd does). */
  txnPut(key: string, value: string, options: PutOptions, what: string): { ok: boolean; revision: string } {
    const current = this.#kv.get(key);
    const held = 'absent' in options.expect ? current === undefined : (current?.modRevision ?? 0n) === BigInt(options.expect.modRevision);
    if (!held) return { ok: false, revision: this.revision };
    const leaseId = options.leaseId ?? '0';
    if (leaseId !== '0' && !this.#leases.has(leaseId)) {
      throw new DatastoreError(E_ETCD_REQUEST, `etcd request failed (${what}) at ${this.endpoints.join(', ')}: etcdserver: requested lease not found`);
    }
    return { ok: true, revision: this.#commit([{ put: key, value, leaseId }]).toString() };
  }

  /** @internal */
  txnDelete(key: string, modRevision: string): boolean {
    const current = this.#kv.get(key);
    if ((current?.modRevision ?? 0n) !== BigInt(modRevision)) return false;
    if (current) this.#commit([{ del: key }]);
    return true;
  }

  /** @internal */
  grant(ttlSeconds: number): { id: string; ttlSeconds: number } {
    const id = (this.#nextLeaseId++).toString();
    this.#leases.set(id, { ttlSeconds, expiresAt: this.#now() + ttlSeconds * 1000, keys: new Set() });
    return { id, ttlSeconds };
  }

  /** @internal A lease already gone is not an error. */
  revoke(id: string): void {
    this.#revoke(id);
  }

  /** @internal Whole seconds left, as etcd reports them; undefined when the lease is gone. */
  timeToLive(id: string): number | undefined {
    const l = this.#leases.get(id);
    return l ? Math.max(0, Math.floor((l.expiresAt - this.#now()) / 1000)) : undefined;
  }

  /**
   * @internal Opens a stream on `prefix` from `fromRevision` (0: from the next write), replaying
   * the kept history first; throws E_ETCD_COMPACTED when that revision is gone.
   */
  openStream(client: MemoryRegistry, prefix: string, fromRevision: string, what: string): Stream {
    const from = BigInt(fromRevision) > 0n ? BigInt(fromRevision) : this.#revision + 1n;
    if (from < this.#compacted) {
      throw new DatastoreError(E_ETCD_COMPACTED, `etcd compacted revision ${fromRevision} away (oldest kept: ${this.#compacted}); re-listing ${prefix}`);
    }
    const stream = new Stream(client, prefix, what);
    for (const h of this.#history) {
      if (h.revision < from) continue;
      const events = h.events.filter((e) => e.kv.key.startsWith(prefix));
      if (events.length > 0) stream.push({ batch: { revision: h.revision.toString(), events } });
    }
    this.#streams.add(stream);
    return stream;
  }

  /** @internal */
  closeStream(stream: Stream): void {
    this.#streams.delete(stream);
  }

  /** @internal A client closed: its streams break as etcd3's do when the client closes. */
  clientClosed(client: MemoryRegistry): void {
    for (const s of this.#streams) {
      if (s.client !== client) continue;
      s.push({ error: unavailableError(this.endpoints, s.what, new ClientClosedError('Watch')) });
      this.#streams.delete(s);
    }
  }

  #revoke(id: string): void {
    const lease = this.#leases.get(id);
    if (!lease) return;
    this.#leases.delete(id);
    if (lease.keys.size > 0) this.#commit([...lease.keys].map((key) => ({ del: key })));
  }

  /** Applies writes as one revision and tells the watches. */
  #commit(ops: Array<{ put: string; value: string; leaseId: string } | { del: string }>): bigint {
    const revision = ++this.#revision;
    const events: WatchEvent[] = [];
    for (const op of ops) {
      const key = 'put' in op ? op.put : op.del;
      const before = this.#kv.get(key);
      const prev = before ? toKv(key, before) : undefined;
      if (before && before.leaseId !== '0') this.#leases.get(before.leaseId)?.keys.delete(key);
      if ('put' in op) {
        const stored: Stored = { value: op.value, modRevision: revision, version: (before?.version ?? 0n) + 1n, leaseId: op.leaseId };
        this.#kv.set(key, stored);
        if (op.leaseId !== '0') this.#leases.get(op.leaseId)?.keys.add(key);
        events.push({ type: 'put', kv: toKv(key, stored), ...(prev ? { prev } : {}) });
      } else {
        this.#kv.delete(key);
        events.push({ type: 'delete', kv: { key, value: '', modRevision: revision.toString(), version: '0', leaseId: '0' }, ...(prev ? { prev } : {}) });
      }
    }
    this.#history.push({ revision, events });
    for (const s of this.#streams) {
      const mine = events.filter((e) => e.kv.key.startsWith(s.prefix));
      if (mine.length > 0) s.push({ batch: { revision: revision.toString(), events: mine } });
    }
    return revision;
  }
}

/** One client's Registry on a MemoryEtcd. */
export class MemoryRegistry implements Registry {
  readonly endpoints: readonly string[];
  readonly etcd: MemoryEtcd;
  #closed = false;

  constructor(etcd: MemoryEtcd) {
    this.etcd = etcd;
    this.endpoints = etcd.endpoints;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` as one request: after a turn of the microtask queue, unless aborted, closed or etcd is down. */
  async #call<T>(what: string, signal: AbortSignal, fn: () => T): Promise<T> {
    signal.throwIfAborted();
    await null;
    signal.throwIfAborted();
    if (this.#closed) throw unavailableError(this.endpoints, what, new ClientClosedError('KV'));
    this.etcd.checkAvailable(what);
    this.etcd.expireDue();
    return fn();
  }

  async get(key: string, signal: AbortSignal): Promise<{ kv: KeyValue | undefined; revision: string }> {
    return await this.#call(`get ${key}`, signal, () => this.etcd.rangeOf(key));
  }

  async list(prefix: string, signal: AbortSignal): Promise<{ kvs: KeyValue[]; revision: string }> {
    return await this.#call(`list ${prefix}`, signal, () => this.etcd.listOf(prefix));
  }

  async putIf(key: string, value: string, options: PutOptions, signal: AbortSignal): Promise<{ ok: boolean; revision: string }> {
    const what = `put ${key}`;
    return await this.#call(what, signal, () => this.etcd.txnPut(key, value, options, what));
  }

  async deleteIf(key: string, expect: { modRevision: string }, signal: AbortSignal): Promise<boolean> {
    return await this.#call(`delete ${key}`, signal, () => this.etcd.txnDelete(key, expect.modRevision));
  }

  async grantLease(ttlSeconds: number, signal: AbortSignal): Promise<{ id: string; ttlSeconds: number }> {
    return await this.#call(`grant a ${ttlSeconds} s lease`, signal, () => this.etcd.grant(ttlSeconds));
  }

  async revokeLease(id: string, signal: AbortSignal): Promise<void> {
    await this.#call(`revoke lease ${id}`, signal, () => this.etcd.revoke(id));
  }

  async leaseTimeToLive(id: string, signal: AbortSignal): Promise<number | undefined> {
    return await this.#call(`time-to-live of lease ${id}`, signal, () => this.etcd.timeToLive(id));
  }

  watch(prefix: string, fromRevision: string, signal: AbortSignal): AsyncIterable<WatchBatch> {
    return this.#watch(prefix, fromRevision, signal);
  }

  async *#watch(prefix: string, fromRevision: string, signal: AbortSignal): AsyncGenerator<WatchBatch> {
    const what = `watch ${prefix} from revision ${fromRevision}`;
    const stream = await this.#call(what, signal, () => this.etcd.openStream(this, prefix, fromRevision, what));
    const onAbort = (): void => stream.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const item = await stream.next(signal);
        if (item === undefined || 'end' in item) return;
        if ('error' in item) throw item.error;
        yield item.batch;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.etcd.closeStream(stream);
    }
  }

  /** Idempotent; later calls fail as on a closed etcd3 client, open watches break. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.etcd.clientClosed(this);
  }
}
