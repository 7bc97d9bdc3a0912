/**
 * @module backend/reconcile/schedule
 * When the reconciler runs a pass: lease changes queue up (latest per peer) and wake the loop;
 * a full pass is due at the first snapshot, periodically, shortly after a drift notification
 * (coalesced) and after a failed pass (retries back off, doubling up to the periodic interval).
 */
import { leaseId, type Lease } from '../../lease/index.ts';
import type { PeerBatch } from '../../subnet/index.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ScheduleOptions {
  readonly intervalMs: number;
  readonly repairDelayMs: number;
  readonly retryDelayMs: number;
}

export class PassSchedule {
  readonly #o: ScheduleOptions;
  /** Lease changes not yet applied, latest per peer; null = removed. */
  readonly #pending = new Map<string, Lease | null>();
  #synced = false;
  #fullDue = false;
  #stopped = false;
  #wakeUp: (() => void) | undefined;
  #periodic: NodeJS.Timeout | undefined;
  #repairTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs: number;

  constructor(o: ScheduleOptions) {
    this.#o = o;
    this.#retryMs = o.retryDelayMs;
  }

  /** Starts the periodic full passes. */
  start(): void {
    const interval = this.#o.intervalMs;
    if (interval > 0) this.#periodic = setInterval(() => this.requestFull(), Math.min(interval, MAX_TIMER_MS));
  }

  /** Stops every timer; a waiting loop wakes up to see it. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#periodic);
    clearTimeout(this.#repairTimer);
    clearTimeout(this.#retryTimer);
    this.wake();
  }

  enqueue(batch: PeerBatch): void {
    for (const ev of batch.events) this.#pending.set(leaseId(ev.lease), ev.type === 'added' ? ev.lease : null);
    if (batch.snapshot && !this.#synced) {
      this.#synced = true;
      this.#fullDue = true;
    }
    this.wake();
  }

  /** Nothing runs before the first snapshot: until then the reconciler does not know every peer. */
  get hasWork(): boolean {
    return this.#synced && (this.#fullDue || this.#pending.size > 0);
  }

  /** True when the next pass must be full; clears the request. */
  takeFull(): boolean {
    const full = this.#fullDue;
    this.#fullDue = false;
    return full;
  }

  takePending(): Array<[string, Lease | null]> {
    const changes = [...this.#pending];
    this.#pending.clear();
    return changes;
  }

  /** Resolves at the next enqueue, request or stop. */
  waitForWork(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wakeUp = resolve));
  }

  wake(): void {
    const w = this.#wakeUp;
    this.#wakeUp = undefined;
    w?.();
  }

  requestFull(): void {
    this.#fullDue = true;
    this.wake();
  }

  /** A full pass after the repair delay; requests meanwhile join it. */
  scheduleRepair(): void {
    if (this.#repairTimer || this.#stopped) return;
    this.#repairTimer = setTimeout(() => {
      this.#repairTimer = undefined;
      this.requestFull();
    }, this.#o.repairDelayMs);
  }

  /** After a failed pass: a full pass after the current retry delay, which then doubles. */
  scheduleRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    const ms = this.#retryMs;
    this.#retryMs = Math.min(ms * 2, Math.max(ms, this.#o.intervalMs), MAX_TIMER_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.requestFull();
    }, ms);
  }

  /** After a pass without failures the retry delay starts over. */
  resetRetry(): void {
    this.#retryMs = this.#o.retryDelayMs;
  }
}
