/**
 * @module daemon/backoff
 * Retry-with-backoff for the daemon's waits (etcd down, config missing).
 */
import { sleep } from '../async/index.ts';
import { isAbortError, describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';

export interface RetryOptions {
  what: string;
  signal: AbortSignal;
  log: Logger;
  initialMs?: number;
  maxMs?: number;
  /** Errors for which retrying is pointless (bad config): rethrown at once. */
  isFatal?: (err: unknown) => boolean;
}

/** Calls `fn` until it resolves, waiting 0.5 s, 1 s, 2 s ... up to `maxMs` between tries, logging each failure. */
export async function retryWithBackoff<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  let delay = o.initialMs ?? 500;
  const max = o.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (o.signal.aborted || isAbortError(err)) throw err;
      if (o.isFatal?.(err)) throw err;
      const hint = (err as { hint?: string }).hint;
      o.log.warn(`${o.what} failed, retrying in ${(delay / 1000).toFixed(1)}s: ${describeError(err)}`, { attempt, ...(hint ? { hint } : {}) });
      await sleep(delay, o.signal);
      delay = Math.min(delay * 2, max);
    }
  }
}
