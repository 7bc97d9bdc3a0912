/**
 * @module subnet/etcd/registry
 * The thin key/value seam under EtcdSubnetManager: only the etcd operations flannel needs, in
 * plain strings. EtcdRegistry implements it over etcd3; tests may wrap or replace it. Every method
 * rejects with DatastoreError (code E_ETCD_*) or an AbortError when `signal` aborts.
 */

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the last write to this key (etcd int64 as a decimal string). */
  readonly modRevision: string;
  /** Number of writes since the key was created; '0' for a deleted key. */
  readonly version: string;
  /** Attached etcd lease id; '0' when none (a reservation). */
  readonly leaseId: string;
}

/** What a conditional write expects to find: no key at all, or the key as last read. */
export type Expectation = { absent: true } | { modRevision: string };

export interface PutOptions {
  expect: Expectation;
  /** Attach this etcd lease; omit for a key without TTL. */
  leaseId?: string;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  /** The key's value before this event, when etcd still has it. */
  readonly prev?: KeyValue;
}

export interface WatchBatch {
  readonly revision: string;
  readonly events: readonly WatchEvent[];
}

export interface Registry {
  /** For messages: where the datastore is. */
  readonly endpoints: readonly string[];
  get(key: string, signal: AbortSignal): Promise<{ kv: KeyValue | undefined; revision: string }>;
  list(prefix: string, signal: AbortSignal): Promise<{ kvs: KeyValue[]; revision: string }>;
  /** Writes iff the expectation holds (one etcd transaction); `ok` false when it did not. */
  putIf(key: string, value: string, options: PutOptions, signal: AbortSignal): Promise<{ ok: boolean; revision: string }>;
  deleteIf(key: string, expect: { modRevision: string }, signal: AbortSignal): Promise<boolean>;
  grantLease(ttlSeconds: number, signal: AbortSignal): Promise<{ id: string; ttlSeconds: number }>;
  /** Revokes an etcd lease (deleting keys still attached); a lease already gone is not an error. */
  revokeLease(id: string, signal: AbortSignal): Promise<void>;
  /** Seconds the lease has left, or undefined when it no longer exists. */
  leaseTimeToLive(id: string, signal: AbortSignal): Promise<number | undefined>;
  /**
   * Watches keys under `prefix` from `fromRevision` (inclusive). Ends when `signal` aborts; throws
   * DatastoreError E_ETCD_COMPACTED when that revision is gone, another DatastoreError when the
   * stream breaks (etcd down, restarted, canceled the watch).
   */
  watch(prefix: string, fromRevision: string, signal: AbortSignal): AsyncIterable<WatchBatch>;
  close(): Promise<void>;
}
