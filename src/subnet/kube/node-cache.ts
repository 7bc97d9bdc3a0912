/**
 * @module subnet/kube/node-cache
 * The peer view of all nodes, kept by the list/watch loop: node name → lease for the nodes that
 * are flannel peers. A watch event becomes lease events by comparing with what the node was: a
 * node that stops being a peer (annotations gone, deleted) is removed, a changed subnet is a
 * removal plus an addition. Unreadable nodes are warned about once per resource version.
 */
import { leaseId, type Lease, type LeaseEvent } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { NodeView, NodeWatchEvent } from './api.ts';
import type { AnnotationNames } from './annotations.ts';
import { nodeToLease, type Families } from './node-lease.ts';

export class NodeLeaseCache {
  readonly #names: AnnotationNames;
  readonly #families: Families;
  readonly #log: Logger;
  readonly #leases = new Map<string, Lease>();
  readonly #warned = new Set<string>();

  constructor(names: AnnotationNames, families: Families, log: Logger) {
    this.#names = names;
    this.#families = families;
    this.#log = log;
  }

  leases(): Lease[] {
    return [...this.#leases.values()];
  }

  /** `wasPeer`: the node was a peer until now, so becoming unreadable cuts it off (a warning, not news). */
  #toLease(node: NodeView, wasPeer: boolean): Lease | undefined {
    const r = nodeToLease(node, this.#names, this.#families);
    if ('lease' in r) return r.lease;
    if (r.problem) {
      const id = `${node.name}@${node.resourceVersion}`;
      if (!this.#warned.has(id)) {
        this.#warned.add(id);
        if (this.#warned.size > 10_000) this.#warned.clear();
        if (wasPeer) this.#log.warn(`node ${node.name} is no longer a usable peer: it ${r.problem}; its routes are removed until it is readable again`, { node: node.name });
        else this.#log.info(`node ${node.name} is not a peer (yet): it ${r.problem}`, { node: node.name });
      }
    }
    return undefined;
  }

  /** Replaces everything with a fresh list. */
  reset(nodes: readonly NodeView[]): void {
    const before = new Set(this.#leases.keys());
    this.#leases.clear();
    for (const node of nodes) {
      const lease = this.#toLease(node, before.has(node.name));
      if (lease) this.#leases.set(node.name, lease);
    }
  }

  apply(ev: NodeWatchEvent): LeaseEvent[] {
    if (ev.type === 'BOOKMARK') return [];
    const name = ev.node.name;
    const old = this.#leases.get(name);
    const next = ev.type === 'DELETED' ? undefined : this.#toLease(ev.node, old !== undefined);
    const out: LeaseEvent[] = [];
    if (old && (!next || leaseId(old) !== leaseId(next))) out.push({ type: 'removed', lease: old });
    if (next) {
      this.#leases.set(name, next);
      out.push({ type: 'added', lease: next });
    } else {
      this.#leases.delete(name);
    }
    return out;
  }
}
