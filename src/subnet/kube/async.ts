/**
 * @module subnet/kube/async
 * Abortable sleep and a capped, jittered exponential backoff (the same shape as the etcd
 * manager's; a candidate for a shared subnet/ helper).
 */

export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
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

  /** Doubles up to the cap, ±20 % jitter so nodes do not retry in step. */
  next(): number {
    const base = this.#next;
    this.#next = Math.min(this.#maxMs, this.#next * 2);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.#next = this.#initialMs;
  }
}
