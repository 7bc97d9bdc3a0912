/**
 * @module subnet/manager
 * The one seam between the daemon and a datastore (etcd, the Kubernetes API).
 */
import type { UndoRegistry } from '../async/index.ts';
import type { NetworkConfig } from '../config/network-config.ts';
import type { Cidr, IPAddress } from '../ip/index.ts';
import type { JsonValue, Lease, LeaseAttrs, LeaseEvent } from '../lease/index.ts';

/** What the manager can tell the daemon about this node from earlier runs. */
export interface NodeHints {
  /** Subnets this node held before (from subnet.env), tried first. */
  previous?: { v4?: Cidr; v6?: Cidr };
}

/** renewLease's code when another node holds this node's subnet now: the lease is lost for good. */
export const E_LEASE_LOST = 'E_LEASE_LOST';

/** A network this node already reaches directly (an interface's prefix, a link route): never a pod subnet. */
export interface HostNetwork {
  readonly cidr: Cidr;
  /** The interface it is on, for messages. */
  readonly device: string;
  /** On the interface flannel uses between nodes: never a pod bridge. */
  readonly external: boolean;
}

/**
 * The first of `hostNetworks` that `subnet` collides with. For a subnet this node already holds
 * (its lease, its previous subnet, its podCIDR), a network inside it on another interface than
 * the external one is its own pod bridge (cni0 or a CNI bridge of another name), not a collision.
 */
export function hostNetworkClash(subnet: Cidr, hostNetworks: readonly HostNetwork[] | undefined, held: boolean): HostNetwork | undefined {
  return hostNetworks?.find((h) => h.cidr.overlaps(subnet) && !(held && !h.external && subnet.containsCidr(h.cidr)));
}

export interface AcquireOptions {
  config: NetworkConfig;
  attrs: LeaseAttrs;
  hints?: NodeHints;
  /** The node's own networks: a subnet overlapping one is never leased. */
  hostNetworks?: readonly HostNetwork[];
  /** Records how to take back what acquisition wrote (a new lease), for a start-up that fails later. */
  undo?: UndoRegistry;
  signal: AbortSignal;
}

/** Backend data this node published in an earlier run, per family (e.g. vxlan's VtepMAC). */
export interface StoredBackendData {
  v4?: JsonValue;
  v6?: JsonValue;
}

/** A watch delivers either deltas or, after a (re-)list, a complete snapshot. */
export type WatchResult = { kind: 'events'; events: LeaseEvent[] } | { kind: 'snapshot'; leases: Lease[] };

export interface SubnetManager {
  readonly name: string;
  /** Reads and validates the network configuration; rejects with ConfigError when invalid, DatastoreError when unreachable. */
  getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig>;
  acquireLease(options: AcquireOptions): Promise<Lease>;
  /** Extends the lease; the returned lease carries the new expiration. */
  renewLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /** Yields a snapshot first, then events; re-lists (another snapshot) after compaction or a broken watch. Ends when `signal` aborts. */
  watchLeases(signal: AbortSignal): AsyncIterable<WatchResult>;
  /** Optional: the backend data this node published before, so a backend can keep its VTEP MAC across restarts (kube: the node's backend-data annotations). */
  storedBackendData?(signal: AbortSignal): Promise<StoredBackendData | undefined>;
  /**
   * Optional: yields the configuration text each time it changes after getNetworkConfig read it
   * (undefined: it was deleted), with where it lives for messages. Ends when `signal` aborts.
   */
  watchNetworkConfig?(signal: AbortSignal): AsyncIterable<{ text: string | undefined; source: string }>;
  /** Optional: called once the network is up (subnet.env written); kube clears the node's NetworkUnavailable condition. */
  networkReady?(lease: Lease, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type { Lease, LeaseAttrs, LeaseEvent, IPAddress };
