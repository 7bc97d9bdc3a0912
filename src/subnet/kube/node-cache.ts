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

  #toLease(node: NodeView): Lease | undefined {
    const r = nodeToLease(node, this.#names, this.#families);
    if ('lease' in r) return r.lease;
    if (r.problem) {
      const id = `${node.name}@${node.resourceVersion}`;
      if (!this.#warned.has(id)) {
        this.#warned.add(id);
        if (this.#warned.size > 10_000) this.#warned.clear();
        this.#log.info(`node ${node.name} is not a peer (yet): it ${r.problem}`, { node: node.name });
      }
    }
    return undefined;
  }

  /** Replaces everything with a fresh list. */
  reset(nodes: readonly NodeView[]): void {
    this.#leases.clear();
    for (const node of nodes) {
      const lease = this.#toLease(node);
      if (lease) this.#leases.set(node.name, lease);
    }
  }

  apply(ev: NodeWatchEvent): LeaseEvent[] {
    if (ev.type === 'BOOKMARK') return [];
    const name = ev.node.name;
    const old = this.#leases.get(name);
    const next = ev.type === 'DELETED' ? undefined : this.#toLease(ev.node);
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
