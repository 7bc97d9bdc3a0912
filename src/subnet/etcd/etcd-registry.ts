/**
 * @module subnet/etcd/etcd-registry
 * Registry over the etcd3 client: raw KV / Lease / Watch RPCs (no keep-alives: leases are
 * renewed by re-putting the key with a fresh lease, as upstream does).
 */
import { Etcd3, EtcdLeaseInvalidError, type ICompare, type IRequestOp } from 'etcd3';
import { abortable, withTimeout } from '../../async/index.ts';
import { toDatastoreError, unavailableError } from './errors.ts';
import { buildClientOptions, DEFAULT_REQUEST_TIMEOUT_MS, normaliseEndpoints, type EtcdConnectionOptions } from './options.ts';
import type { KeyValue, PutOptions, Registry, WatchBatch } from './registry.ts';
import { prefixEnd, toKeyValue, watchPrefix } from './watch-stream.ts';

export class EtcdRegistry implements Registry {
  readonly endpoints: readonly string[];
  readonly #client: Etcd3;
  readonly #timeoutMs: number;

  constructor(options: EtcdConnectionOptions) {
    this.endpoints = normaliseEndpoints(options);
    this.#client = new Etcd3(buildClientOptions(options));
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /**
   * etcd3 retries recoverable failures (3 attempts, each with its own deadline), so one call can
   * take several deadlines; this bounds the whole call to about one.
   */
  async #call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      const bounded = withTimeout(fn(), this.#timeoutMs + 1000, () => unavailableError(this.endpoints, `${what}: no answer within ${this.#timeoutMs + 1000} ms`));
      return await abortable(bounded, signal);
    } catch (err) {
      throw toDatastoreError(err, this.endpoints, what);
    }
  }

  async get(key: string, signal: AbortSignal): Promise<{ kv: KeyValue | undefined; revision: string }> {
    const res = await this.#call(`get ${key}`, signal, () => this.#client.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return { kv: kv ? toKeyValue(kv) : undefined, revision: String(res.header.revision) };
  }

  async list(prefix: string, signal: AbortSignal): Promise<{ kvs: KeyValue[]; revision: string }> {
    const key = Buffer.from(prefix);
    const res = await this.#call(`list ${prefix}`, signal, () => this.#client.kv.range({ key, range_end: prefixEnd(key) }));
    return { kvs: res.kvs.map(toKeyValue), revision: String(res.header.revision) };
  }

  async putIf(key: string, value: string, options: PutOptions, signal: AbortSignal): Promise<{ ok: boolean; revision: string }> {
    const k = Buffer.from(key);
    const compare: ICompare =
      'absent' in options.expect
        ? { key: k, target: 'Version', result: 'Equal', version: 0 }
        : { key: k, target: 'Mod', result: 'Equal', mod_revision: options.expect.modRevision };
    const put: IRequestOp = { request_put: { key: k, value: Buffer.from(value), lease: options.leaseId ?? 0 } };
    const res = await this.#call(`put ${key}`, signal, () => this.#client.kv.txn({ compare: [compare], success: [put] }));
    return { ok: res.succeeded, revision: String(res.header.revision) };
  }

  async deleteIf(key: string, expect: { modRevision: string }, signal: AbortSignal): Promise<boolean> {
    const k = Buffer.from(key);
    const res = await this.#call(`delete ${key}`, signal, () =>
      this.#client.kv.txn({
        compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: expect.modRevision }],
        success: [{ request_delete_range: { key: k } }],
      }),
    );
    return res.succeeded;
  }

  async grantLease(ttlSeconds: number, signal: AbortSignal): Promise<{ id: string; ttlSeconds: number }> {
    const res = await this.#call(`grant a ${ttlSeconds} s lease`, signal, () => this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    return { id: String(res.ID), ttlSeconds: Number(res.TTL) };
  }

  async revokeLease(id: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#call(`revoke lease ${id}`, signal, () => this.#client.leaseClient.leaseRevoke({ ID: id }));
    } catch (err) {
      if ((err as Error).cause instanceof EtcdLeaseInvalidError) return;
      throw err;
    }
  }

  async leaseTimeToLive(id: string, signal: AbortSignal): Promise<number | undefined> {
    const res = await this.#call(`time-to-live of lease ${id}`, signal, () => this.#client.leaseClient.leaseTimeToLive({ ID: id }));
    const ttl = Number(res.TTL);
    return ttl < 0 ? undefined : ttl;
  }

  watch(prefix: string, fromRevision: string, signal: AbortSignal): AsyncIterable<WatchBatch> {
    return watchPrefix(this.#client, this.endpoints, prefix, fromRevision, signal);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
