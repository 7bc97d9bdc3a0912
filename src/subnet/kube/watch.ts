/**
 * @module subnet/kube/watch
 * The peer watch: list all nodes (a snapshot), then watch from the list's resourceVersion. Any
 * break — 410 Gone, a stream the server ended or cut, a watch error — leads to a new list and
 * snapshot, which LeaseWatcher.reset diffs, so no peer is lost or invented; the list is also
 * repeated every `resyncMs` (upstream's informer resync, 5 min) as a guard against a silently
 * dead connection. The loop runs beside the consumer and never waits for it (see LeaseFeed).
 */
import { describeError } from '../../errors/index.ts';
import type { WatchResult } from '../manager.ts';
import { Backoff, pause } from '../../async/index.ts';
import type { KubeContext } from './context.ts';
import { E_KUBE_GONE, isKubeError } from './errors.ts';
import { LeaseFeed } from './lease-feed.ts';
import { NodeLeaseCache } from './node-cache.ts';
import type { Families } from './node-lease.ts';

/** A watch that lived this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_WATCH_MS = 30_000;

const RESYNC = Symbol('resync');

async function listAndWatch(ctx: KubeContext, cache: NodeLeaseCache, feed: LeaseFeed, signal: AbortSignal): Promise<void> {
  const { api, log, timings } = ctx;
  const backoff = new Backoff(timings.retryInitialMs, timings.retryMaxMs);
  while (!signal.aborted) {
    let resourceVersion: string;
    try {
      const list = await api.listNodes(signal);
      cache.reset(list.nodes);
      feed.requestSnapshot();
      resourceVersion = list.resourceVersion;
      ctx.watchState(true);
      log.debug(`listed ${list.nodes.length} nodes at resource version ${resourceVersion}`, { peers: cache.leases().length });
    } catch (err) {
      if (signal.aborted) return;
      ctx.watchState(false);
      const ms = backoff.next();
      log.warn(`cannot list nodes; retrying in ${ms} ms: ${describeError(err)}`);
      if (!(await pause(ms, signal))) return;
      continue;
    }

    const resync = new AbortController();
    const timer = setTimeout(() => resync.abort(RESYNC), timings.resyncMs);
    const started = Date.now();
    try {
      for await (const ev of api.watchNodes(resourceVersion, AbortSignal.any([signal, resync.signal]))) {
        if (ev.type === 'BOOKMARK') resourceVersion = ev.resourceVersion;
        else feed.push(cache.apply(ev));
      }
      if (signal.aborted) return;
      if (resync.signal.aborted) {
        log.debug('periodic resync: re-listing nodes');
        continue;
      }
      if (Date.now() - started >= HEALTHY_WATCH_MS) backoff.reset();
      const ms = backoff.next();
      log.info(`the node watch ended (the API server closed it); re-listing in ${ms} ms`);
      if (!(await pause(ms, signal))) return;
    } catch (err) {
      if (signal.aborted) return;
      if (resync.signal.aborted) continue;
      if (isKubeError(err, E_KUBE_GONE)) {
        log.info(`${describeError(err)}; re-listing nodes`);
        continue;
      }
      if (Date.now() - started >= HEALTHY_WATCH_MS) backoff.reset();
      ctx.watchState(false);
      const ms = backoff.next();
      log.warn(`the node watch broke; re-listing in ${ms} ms: ${describeError(err)}`);
      if (!(await pause(ms, signal))) return;
    } finally {
      clearTimeout(timer);
    }
  }
}

export async function* watchLeases(ctx: KubeContext, families: Families, signal: AbortSignal): AsyncGenerator<WatchResult> {
  const cache = new NodeLeaseCache(ctx.names, families, ctx.log);
  const feed = new LeaseFeed(ctx.eventQueueDepth, () => cache.leases(), ctx.log);
  const stop = new AbortController();
  const inner = AbortSignal.any([signal, stop.signal]);
  const loop = listAndWatch(ctx, cache, feed, inner).catch((err: unknown) => {
    // The loop only ends by abort; anything else must reach the consumer, not stop peers silently.
    if (!inner.aborted) feed.fail(err);
  });
  try {
    for (;;) {
      const result = await feed.next(inner);
      if (!result) return;
      yield result;
    }
  } finally {
    stop.abort();
    await loop;
  }
}
