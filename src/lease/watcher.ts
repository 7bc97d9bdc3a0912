/**
 * @module lease/watcher
 * Turns datastore snapshots and deltas into added/removed peer events, dropping the node's own
 * lease. A snapshot (after a re-list, e.g. on compaction or a broken watch) is diffed against
 * what we knew, so no peer is ever dropped or duplicated silently.
 */
import { leaseId, type Lease, type LeaseEvent } from './lease.ts';

export class LeaseWatcher {
  readonly #known = new Map<string, Lease>();
  readonly #ownId: string | undefined;

  constructor(own?: Pick<Lease, 'subnet' | 'ipv6Subnet'>) {
    this.#ownId = own ? leaseId(own) : undefined;
  }

  get peers(): Lease[] {
    return [...this.#known.values()];
  }

  /** Applies a full snapshot: emits removals for leases gone, additions for new or changed ones. */
  reset(snapshot: readonly Lease[]): LeaseEvent[] {
    const events: LeaseEvent[] = [];
    const next = new Map<string, Lease>();
    for (const lease of snapshot) {
      const id = leaseId(lease);
      if (id === this.#ownId) continue;
      next.set(id, lease);
    }
    for (const [id, old] of this.#known) {
      if (!next.has(id)) events.push({ type: 'removed', lease: old });
    }
    for (const [id, lease] of next) {
      const old = this.#known.get(id);
      if (!old || !sameAttrs(old, lease)) events.push({ type: 'added', lease });
    }
    this.#known.clear();
    for (const [id, lease] of next) this.#known.set(id, lease);
    return events;
  }

  /** Applies deltas; repeated additions with unchanged attributes (renewals) are not re-emitted. */
  update(deltas: readonly LeaseEvent[]): LeaseEvent[] {
    const events: LeaseEvent[] = [];
    for (const ev of deltas) {
      const id = leaseId(ev.lease);
      if (id === this.#ownId) continue;
      if (ev.type === 'added') {
        const old = this.#known.get(id);
        this.#known.set(id, ev.lease);
        if (!old || !sameAttrs(old, ev.lease)) events.push(ev);
      } else if (this.#known.delete(id)) {
        events.push(ev);
      }
    }
    return events;
  }
}

function sameAttrs(a: Lease, b: Lease): boolean {
  return JSON.stringify(attrsKey(a)) === JSON.stringify(attrsKey(b));
}

function attrsKey(l: Lease): unknown {
  const { publicIP, publicIPv6, backendType, backendData, backendV6Data } = l.attrs;
  return [publicIP?.toString(), publicIPv6?.toString(), backendType, backendData, backendV6Data];
}
