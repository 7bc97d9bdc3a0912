/**
 * @module async
 * Promise helpers shared by the daemon and the datastore clients: abortable waits, timeouts and a
 * capped exponential backoff with jitter.
 */

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('aborted', 'AbortError');
}

/** Settles like `promise`, or rejects with the abort reason as soon as `signal` aborts. */
export async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    throw abortReason(signal);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    promise.catch(() => undefined);
  }
}

/** Settles like `promise`, or rejects with `onTimeout()` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    promise.catch(() => undefined);
  }
}

export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sleeps `ms`; false when `signal` aborted first. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}

export class Backoff {
  #next: number;
  readonly #initialMs: number;
  readonly #maxMs: number;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#next = initialMs;
  }

  /** The next delay: doubles up to the cap, with ±20 % jitter so nodes do not retry in step. */
  next(): number {
    const base = this.#next;
    this.#next = Math.min(this.#maxMs, this.#next * 2);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.#next = this.#initialMs;
  }
}
export { UndoLog, type UndoRegistry, type UndoReport } from './undo.ts';
