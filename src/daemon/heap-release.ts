/**
 * @module daemon/heap-release
 * Hands the memory of a burst of peer programming back to the OS right after the burst.
 *
 * Programming thousands of peers at once (start-up, a large lease churn) grows V8's old
 * generation. The full GC that follows frees the objects, but V8 keeps the freed pages pooled
 * until its memory reducer runs, a fixed 8 s after the last full GC (Node 20's V8 ignores
 * --gc-memory-reducer-start-delay-ms). With 5000 peers that holds RSS ~10 MiB above steady state
 * for those seconds. A plain gc() frees the objects but keeps the pages pooled too; the
 * inspector's HeapProfiler.collectGarbage (DevTools' "collect garbage") runs the memory-reducing
 * collection that also unmaps them. It costs two back-to-back full GCs (30-50 ms on the main
 * thread with 5000 peers), so it runs only after a pass that changed many kernel objects, once passes have been quiet for a
 * moment, and at most once per interval.
 *
 * Quiet periodic passes need it too, more rarely: each promotes ~60 KB of its temporaries (at 5000
 * peers) into the old generation, which V8 collects only once it has grown 30% (--optimize-for-size),
 * so RSS would climb ~6 MiB over a quarter of an hour before dropping. Once the old generation has
 * grown 2 MiB since the last collection (every ~5 minutes at 5000 peers), the next pass triggers
 * one as well.
 */
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import type { PassSummary } from '../backend/index.ts';
import { describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';

export interface HeapReleaseOptions {
  readonly log: Logger;
  /** Kernel objects applied + removed by one pass that count as a burst (default 1000). */
  readonly minChanges?: number;
  /** Quiet time after the last burst pass before collecting (default 500 ms). */
  readonly quietMs?: number;
  /** Least time between two collections (default 60 s). */
  readonly minIntervalMs?: number;
  /** Old-generation growth since the last collection that calls for one too (default 2 MiB). */
  readonly oldGrowthMiB?: number;
  /** Bytes in use outside the young generation; default: v8.getHeapSpaceStatistics(). */
  readonly oldBytes?: () => number;
  /** The collection; default: collectGarbageAndUnmap. */
  readonly collect?: () => Promise<void>;
  /** Anonymous RSS in MiB, for the log line; default: /proc/self/status. */
  readonly anonRssMiB?: () => number | undefined;
  /** The clock intervals are measured on (ms); default: performance.now. */
  readonly now?: () => number;
}

export interface HeapRelease {
  /** Feed every reconciler pass here (ReconcileTuning.onPass). */
  afterPass(summary: PassSummary): void;
}

export function createHeapRelease(o: HeapReleaseOptions): HeapRelease {
  const minChanges = o.minChanges ?? 1000;
  const quietMs = o.quietMs ?? 500;
  const minIntervalMs = o.minIntervalMs ?? 60_000;
  const collect = o.collect ?? collectGarbageAndUnmap;
  const anonRss = o.anonRssMiB ?? anonRssMiB;
  const oldBytes = o.oldBytes ?? oldGenerationBytes;
  const oldGrowth = (o.oldGrowthMiB ?? 2) * 1048576;
  const now = o.now ?? (() => performance.now());
  /** Old-generation bytes after the last collection; until the first pass, after start-up's module loading. */
  let oldAfterLast: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastRunAt = -Infinity;
  let running = false;
  let disabled = false;

  const run = async (): Promise<void> => {
    timer = undefined;
    if (running || disabled) return;
    const wait = lastRunAt + minIntervalMs - now();
    if (wait > 0) return schedule(wait);
    running = true;
    const before = anonRss();
    const started = now();
    try {
      await collect();
      const after = anonRss();
      const freed = before !== undefined && after !== undefined ? ` (anonymous RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB)` : '';
      o.log.debug(`returned the memory of the last burst to the OS${freed}`, { ms: Math.round(now() - started) });
    } catch (err) {
      disabled = true;
      o.log.debug(`not returning memory after bursts: ${describeError(err)}`);
    } finally {
      lastRunAt = now();
      oldAfterLast = oldBytes();
      running = false;
    }
  };

  function schedule(ms: number): void {
    clearTimeout(timer);
    // unref: a pending collection never keeps a stopping daemon alive.
    timer = setTimeout(() => void run(), ms).unref();
  }

  return {
    afterPass(summary) {
      if (disabled) return;
      oldAfterLast ??= oldBytes();
      if (summary.applied + summary.removed >= minChanges) schedule(quietMs);
      // A later small pass postpones a pending collection: the burst may still be settling.
      else if (timer) schedule(quietMs);
      else if (!running && oldBytes() - (oldAfterLast ?? 0) >= oldGrowth) schedule(quietMs);
    },
  };
}

/**
 * A full, memory-reducing GC that also unmaps the pages it frees, through an in-process inspector
 * session (no port is opened). Rejects where Node was built without the inspector.
 */
export async function collectGarbageAndUnmap(): Promise<void> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
  } finally {
    session.disconnect();
  }
}

function oldGenerationBytes(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (!space.space_name.startsWith('new_')) used += space.space_used_size;
  return used;
}

function anonRssMiB(): number | undefined {
  try {
    const kb = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
