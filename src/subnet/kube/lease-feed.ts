/**
 * @module subnet/kube/lease-feed
 * Hands watch results from the list/watch loop to the consumer without ever making the watch
 * wait (ff#12: upstream's 5000-deep channel blocked its informer on large clusters). Events
 * queue up to EVENT_QUEUE_DEPTH; past that the queue collapses into one pending snapshot, which
 * is taken from the node cache when the consumer next pulls, so nothing is lost, only merged.
 * A (re-)list also asks for a snapshot: it replaces whatever was queued.
 */
import type { Lease, LeaseEvent } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { WatchResult } from '../manager.ts';

export class LeaseFeed {
  readonly #depth: number;
  readonly #snapshotOf: () => Lease[];
  readonly #log: Logger;
  #events: LeaseEvent[] = [];
  #snapshotPending = false;
  #wake: (() => void) | undefined;
  #failure: { error: unknown } | undefined;
  /** How often the queue overflowed into a snapshot (for tests and logs). */
  overflows = 0;

  constructor(depth: number, snapshotOf: () => Lease[], log: Logger) {
    this.#depth = depth;
    this.#snapshotOf = snapshotOf;
    this.#log = log;
  }

  /** After a (re-)list: the consumer's next result is a complete snapshot. */
  requestSnapshot(): void {
    this.#events = [];
    this.#snapshotPending = true;
    this.#notify();
  }

  /** The producer died: the consumer's next pull throws `error`. */
  fail(error: unknown): void {
    this.#failure = { error };
    this.#notify();
  }

  push(events: readonly LeaseEvent[]): void {
    if (events.length === 0 || this.#snapshotPending) return; // a pending snapshot already covers them
    this.#events.push(...events);
    if (this.#events.length > this.#depth) {
      this.overflows++;
      this.#log.warn(`more than ${this.#depth} node events are waiting (EVENT_QUEUE_DEPTH): merging them into one snapshot instead of blocking the watch`);
      this.#events = [];
      this.#snapshotPending = true;
    }
    this.#notify();
  }

  /** The next result: a snapshot if one is pending, else every queued event as one batch; undefined once `signal` aborts. */
  async next(signal: AbortSignal): Promise<WatchResult | undefined> {
    while (!this.#snapshotPending && this.#events.length === 0 && !this.#failure) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        this.#wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    if (signal.aborted) return undefined;
    if (this.#failure) throw this.#failure.error;
    if (this.#snapshotPending) {
      this.#snapshotPending = false;
      this.#events = [];
      return { kind: 'snapshot', leases: this.#snapshotOf() };
    }
    const events = this.#events;
    this.#events = [];
    return { kind: 'events', events };
  }

  #notify(): void {
    this.#wake?.();
  }
}
