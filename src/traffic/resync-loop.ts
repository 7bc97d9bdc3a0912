/**
 * @module traffic/resync-loop
 * Re-checks the rules every `--iptables-resync` seconds until the signal aborts. Repairs are
 * logged at info, failures at warn; nothing ever escapes the loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { TrafficManager } from './traffic-manager.ts';

/** Upstream's `--iptables-resync` default, 5 seconds. */
export const DEFAULT_RESYNC_MS = 5_000;

/** What one check found (for metrics). */
export interface ResyncOutcome {
  readonly ok: boolean;
  readonly seconds: number;
  /** Rules put back. */
  readonly restored: number;
}

export async function runResyncLoop(tm: TrafficManager, intervalMs: number, signal: AbortSignal, log: Logger, observe?: (outcome: ResyncOutcome) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return; // aborted
    }
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const { repaired } = await tm.resync(signal);
      observe?.({ ok: true, seconds: seconds(), restored: repaired.length });
      if (repaired.length > 0) log.info('traffic rules were missing or altered; re-applied them', { kind: tm.kind, repaired });
      else log.trace('traffic rules in place', { kind: tm.kind });
    } catch (err) {
      if (signal.aborted) return;
      observe?.({ ok: false, seconds: seconds(), restored: 0 });
      log.warn('traffic rule resync failed; will retry', { kind: tm.kind, error: describeError(err) });
    }
  }
}
