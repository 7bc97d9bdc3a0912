/**
 * @module subnet/etcd/watch
 * The lease watch: list (a snapshot), then watch from the snapshot's revision + 1 so nothing
 * written in between is missed. Any break (compaction, etcd restart or down, a canceled watch)
 * leads to a new list and snapshot, which LeaseWatcher.reset diffs: peers are never dropped or
 * invented silently. Retries with backoff while etcd is down; ends when the signal aborts.
 */
import { describeError, DatastoreError } from '../../errors/index.ts';
import { decodeLeaseAttrs, type Lease, type LeaseAttrs, type LeaseEvent } from '../../lease/index.ts';
import type { SubnetPair } from '../../ip/index.ts';
import type { WatchResult } from '../manager.ts';
import { Backoff, sleep } from '../../async/index.ts';
import type { ManagerContext } from './context.ts';
import { E_ETCD_COMPACTED } from './errors.ts';
import { decodeEntry, toLease } from './keys.ts';
import type { KeyValue, WatchEvent } from './registry.ts';

interface Snapshot {
  leases: Lease[];
  revision: string;
}

class LeaseDecoder {
  readonly #ctx: ManagerContext;
  /** Last attributes seen per key: a delete event may come without the old value. */
  readonly #attrs = new Map<string, LeaseAttrs>();
  /** Entries already warned about (key@revision), so a re-list does not repeat the warning. */
  readonly #warned = new Set<string>();

  constructor(ctx: ManagerContext) {
    this.#ctx = ctx;
  }

  async snapshot(signal: AbortSignal): Promise<Snapshot> {
    const { registry, layout, expirations } = this.#ctx;
    const { kvs, revision } = await registry.list(layout.subnetsPrefix, signal);
    const entries = kvs.map((kv) => decodeEntry(layout, kv));
    const good: Array<{ kv: KeyValue; pair: SubnetPair; attrs: LeaseAttrs }> = [];
    for (const { kv, pair, attrs, problem } of entries) {
      if (pair && attrs) good.push({ kv, pair, attrs });
      else this.#warn(kv, problem ?? 'unreadable');
    }
    this.#attrs.clear();
    const leases = good.map(({ kv, pair, attrs }) => {
      this.#attrs.set(kv.key, attrs);
      return toLease(pair, attrs, kv, expirations.bound(kv, this.#ctx.ttlSeconds));
    });
    return { leases, revision };
  }

  events(batch: readonly WatchEvent[]): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const ev of batch) {
      const e = ev.type === 'put' ? this.#added(ev.kv) : this.#removed(ev);
      if (e) out.push(e);
    }
    return out;
  }

  #added(kv: KeyValue): LeaseEvent | undefined {
    const e = decodeEntry(this.#ctx.layout, kv);
    if (e.problem || !e.pair || !e.attrs) {
      this.#warn(kv, e.problem ?? 'unreadable');
      // A peer whose value became garbage cannot be routed to: it is gone for routing (its
      // subnet stays taken for allocation, which reads every key).
      const before = this.#attrs.get(kv.key);
      const pair = this.#ctx.layout.pairOf(kv.key);
      if (!before || !pair) return undefined;
      this.#attrs.delete(kv.key);
      return { type: 'removed', lease: toLease(pair, before, kv, undefined) };
    }
    const expiration = this.#ctx.expirations.bound(kv, this.#ctx.ttlSeconds);
    this.#attrs.set(kv.key, e.attrs);
    return { type: 'added', lease: toLease(e.pair, e.attrs, kv, expiration) };
  }

  #removed(ev: WatchEvent): LeaseEvent | undefined {
    const pair = this.#ctx.layout.pairOf(ev.kv.key);
    if (!pair) return undefined;
    let attrs = this.#attrs.get(ev.kv.key);
    if (ev.prev) {
      try {
        attrs = decodeLeaseAttrs(ev.prev.value, `etcd key ${ev.kv.key}`);
      } catch {
        /* keep what we saw last */
      }
    }
    this.#attrs.delete(ev.kv.key);
    const expired = ev.prev === undefined || ev.prev.leaseId !== '0' ? new Date(this.#ctx.now()) : undefined;
    return { type: 'removed', lease: toLease(pair, attrs ?? { backendType: '' }, ev.kv, expired) };
  }

  #warn(kv: KeyValue, problem: string): void {
    const id = `${kv.key}@${kv.modRevision}`;
    if (this.#warned.has(id)) return;
    this.#warned.add(id);
    this.#ctx.log.warn(`ignoring unreadable entry ${kv.key}; its subnet stays taken: ${problem}`, { key: kv.key });
  }
}

export async function* watchLeases(ctx: ManagerContext, signal: AbortSignal): AsyncGenerator<WatchResult> {
  const { registry, layout, log } = ctx;
  const backoff = new Backoff(ctx.retry.initialMs, ctx.retry.maxMs);
  const decoder = new LeaseDecoder(ctx);
  const pause = async (ms: number): Promise<boolean> => {
    try {
      await sleep(ms, signal);
      return true;
    } catch {
      return false;
    }
  };

  /** When the watch last broke (ctx clock), until a listing succeeds again. */
  let brokeAt: number | undefined;
  let retries = 0;
  const broke = (): void => {
    brokeAt ??= ctx.now();
    ctx.watchState(false);
  };
  /** One WARN when an outage starts; its retries are debug lines, so a long outage does not flood the log. */
  const warnRetry = (msg: string): void => {
    if (retries++ === 0) log.warn(msg);
    else log.debug(msg);
  };

  while (!signal.aborted) {
    let snap: Snapshot;
    try {
      snap = await decoder.snapshot(signal);
    } catch (err) {
      if (signal.aborted) return;
      broke();
      const ms = backoff.next();
      warnRetry(`cannot list leases under ${layout.subnetsPrefix}; retrying in ${ms} ms: ${describeError(err)}`);
      if (!(await pause(ms))) return;
      continue;
    }
    backoff.reset();
    ctx.watchState(true);
    if (brokeAt !== undefined) {
      const seconds = Math.round((ctx.now() - brokeAt) / 100) / 10;
      log.info(`watch on ${layout.subnetsPrefix} restored after ${seconds} s (re-listed ${snap.leases.length} lease${snap.leases.length === 1 ? '' : 's'})`);
      brokeAt = undefined;
      retries = 0;
    }
    yield { kind: 'snapshot', leases: snap.leases };

    try {
      const from = (BigInt(snap.revision) + 1n).toString();
      for await (const batch of registry.watch(layout.subnetsPrefix, from, signal)) {
        const events = decoder.events(batch.events);
        if (events.length > 0) yield { kind: 'events', events };
      }
      if (signal.aborted) return;
      // A stream that ends without an error (server closed it) must not end peer watching.
      broke();
      const ms = backoff.next();
      warnRetry(`lease watch ended unexpectedly; re-listing in ${ms} ms`);
      if (!(await pause(ms))) return;
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof DatastoreError && err.code === E_ETCD_COMPACTED) {
        log.info(`${err.message}`);
        continue;
      }
      broke();
      const ms = backoff.next();
      warnRetry(`lease watch broke; re-listing in ${ms} ms: ${describeError(err)}`);
      if (!(await pause(ms))) return;
    }
  }
}
