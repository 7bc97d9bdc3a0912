/**
 * @module lease/lease
 * A lease: one node's pod subnet(s) and what peers need to reach them. Backend data is opaque
 * JSON here; each backend owns and validates its own.
 */
import type { Cidr, IPAddress } from '../ip/index.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface LeaseAttrs {
  readonly publicIP?: IPAddress;
  readonly publicIPv6?: IPAddress;
  readonly backendType: string;
  readonly backendData?: JsonValue;
  readonly backendV6Data?: JsonValue;
}

/**
 * A lease or its attributes while being built. Long-lived lease objects (one per peer) are built by
 * assignment, never with conditional spreads (`{ ...(x ? { a } : {}), b }`): V8 gives every object
 * built that way a hidden class of its own, ~200 bytes each, 2 MiB of heap at 5000 peers.
 */
export type LeaseDraft<T extends Lease | LeaseAttrs> = { -readonly [K in keyof T]: T[K] };

export interface Lease {
  readonly subnet?: Cidr;
  readonly ipv6Subnet?: Cidr;
  readonly attrs: LeaseAttrs;
  /** When the lease expires; undefined for a reservation (a key without a TTL). */
  readonly expiration?: Date;
  /** Datastore revision this lease was read at (etcd mod revision, kube resourceVersion). */
  readonly revision?: string;
}

export type LeaseEventType = 'added' | 'removed';

export interface LeaseEvent {
  readonly type: LeaseEventType;
  readonly lease: Lease;
}

/** The identity of a lease: its subnet key. Two leases with the same key are the same node's. */
export function leaseId(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string {
  const id = `${lease.subnet?.toString() ?? '-'}&${lease.ipv6Subnet?.toString() ?? '-'}`;
  // Ids key maps as long as the peers live: flattened (in place, by V8) they are one string
  // instead of a tree of pieces.
  id.charCodeAt(0);
  return id;
}

export function isReservation(lease: Lease): boolean {
  return lease.expiration === undefined;
}

/** Human form used in logs: "10.244.2.0/24 via 192.0.2.12". */
export function describeLease(lease: Lease): string {
  const subnets = [lease.subnet, lease.ipv6Subnet].filter(Boolean).map(String).join(' + ');
  const via = [lease.attrs.publicIP, lease.attrs.publicIPv6].filter(Boolean).map(String).join(' / ');
  return `${subnets} via ${via || '(no public IP)'}`;
}
