/**
 * @module subnet/etcd/watch-stream
 * One etcd watch on a raw gRPC stream, as an async iterable of batches. We drive the stream
 * ourselves instead of etcd3's Watcher: that one reconnects on its own from a revision it tracks
 * internally, and on compaction it surfaces only "Watcher canceled" without the compact revision.
 * Here every break is an error for the caller, who re-lists and starts a new watch.
 */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { DatastoreError } from '../../errors/index.ts';
import { E_ETCD_COMPACTED, E_ETCD_WATCH, toDatastoreError, unavailableError } from './errors.ts';
import type { KeyValue, WatchBatch, WatchEvent } from './registry.ts';

export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: String(kv.mod_revision),
    version: String(kv.version),
    leaseId: String(kv.lease || '0'),
  };
}

/** The etcd range end covering every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

type Item = { batch: WatchBatch } | { error: unknown };

export async function* watchPrefix(
  client: Etcd3,
  endpoints: readonly string[],
  prefix: string,
  fromRevision: string,
  signal: AbortSignal,
): AsyncGenerator<WatchBatch> {
  signal.throwIfAborted();
  const what = `watch ${prefix} from revision ${fromRevision}`;
  let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>>;
  try {
    stream = await client.watchClient.watch();
  } catch (err) {
    throw toDatastoreError(err, endpoints, what);
  }
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  const push = (item: Item): void => {
    queue.push(item);
    wake?.();
  };
  stream.on('data', (res: IWatchResponse) => {
    if (res.canceled) {
      const compact = String(res.compact_revision ?? '0');
      if (compact !== '0') {
        push({
          error: new DatastoreError(E_ETCD_COMPACTED, `etcd compacted revision ${fromRevision} away (oldest kept: ${compact}); re-listing ${prefix}`),
        });
      } else {
        push({ error: new DatastoreError(E_ETCD_WATCH, `etcd canceled the watch on ${prefix}: ${res.cancel_reason || 'no reason given'}`) });
      }
      return;
    }
    if (res.created || res.events.length === 0) return;
    const events: WatchEvent[] = res.events.map((ev) => ({
      type: ev.type === 'Delete' ? 'delete' : 'put',
      kv: toKeyValue(ev.kv),
      ...(ev.prev_kv ? { prev: toKeyValue(ev.prev_kv) } : {}),
    }));
    push({ batch: { revision: String(res.header.revision), events } });
  });
  stream.on('error', (err: Error) => push({ error: toDatastoreError(err, endpoints, what) }));
  stream.on('end', () => push({ error: unavailableError(endpoints, `${what}: stream ended`) }));
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });

  const key = Buffer.from(prefix);
  stream.write({ create_request: { key, range_end: prefixEnd(key), start_revision: fromRevision, prev_kv: true } });
  try {
    for (;;) {
      while (queue.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (signal.aborted) return;
      const item = queue.shift() as Item;
      if ('error' in item) throw item.error;
      yield item.batch;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.cancel();
  }
}
