/**
 * @module daemon/own-lease-tap
 * Notices when someone else changes this node's own lease: deleted (by hand, or expired while
 * etcd was away), taken over by another node, or its value rewritten. It looks at the lease
 * stream the backend already watches (no second watch: at 5000 peers a second listing costs as
 * much as the first), so it wraps the SubnetManager handed to the backend.
 */
import { encodeLeaseAttrs, leaseId, type Lease } from '../lease/index.ts';
import type { SubnetManager, WatchResult } from '../subnet/index.ts';

export type OwnLeaseChange =
  /** The datastore no longer has the lease (a delete, or absent from a fresh listing). */
  | { readonly kind: 'missing' }
  /** The lease is there with other attributes than this node published (another owner, or edited). */
  | { readonly kind: 'changed'; readonly lease: Lease };

export class OwnLeaseTap {
  readonly #inner: SubnetManager;
  #ownId: string | undefined;
  #ownValue: string | undefined;
  #listener: ((change: OwnLeaseChange) => void) | undefined;

  readonly #observe: ((result: WatchResult) => void) | undefined;

  /** `observe` sees every result of the lease stream too (metrics count events and re-lists). */
  constructor(inner: SubnetManager, observe?: (result: WatchResult) => void) {
    this.#inner = inner;
    this.#observe = observe;
  }

  /** From now on, changes to `lease` (by subnet) are reported to `onChange`. */
  follow(lease: Lease, onChange: (change: OwnLeaseChange) => void): void {
    this.#ownId = leaseId(lease);
    this.#ownValue = encodeLeaseAttrs(lease.attrs);
    this.#listener = onChange;
  }

  /** The manager to hand the backend: the same one, with its lease stream looked at on the way. */
  get subnets(): SubnetManager {
    const inner = this.#inner;
    const inspect = (r: WatchResult): void => this.#inspect(r);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'watchLeases') {
          return (signal: AbortSignal): AsyncIterable<WatchResult> => tap(target.watchLeases(signal), inspect);
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  #inspect(result: WatchResult): void {
    this.#observe?.(result);
    const id = this.#ownId;
    const report = this.#listener;
    if (id === undefined || !report) return;
    if (result.kind === 'snapshot') {
      const own = result.leases.find((l) => leaseId(l) === id);
      if (!own) report({ kind: 'missing' });
      else if (encodeLeaseAttrs(own.attrs) !== this.#ownValue) report({ kind: 'changed', lease: own });
      return;
    }
    for (const ev of result.events) {
      if (leaseId(ev.lease) !== id) continue;
      if (ev.type === 'removed') report({ kind: 'missing' });
      else if (encodeLeaseAttrs(ev.lease.attrs) !== this.#ownValue) report({ kind: 'changed', lease: ev.lease });
    }
  }
}

async function* tap(source: AsyncIterable<WatchResult>, inspect: (r: WatchResult) => void): AsyncGenerator<WatchResult> {
  for await (const r of source) {
    inspect(r);
    yield r;
  }
}
