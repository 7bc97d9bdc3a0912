/**
 * @module backend/reconcile/types
 * What a backend's data plane gives the peer reconciler, and what the reconciler reports.
 */
import type { EventGroup, KernelEvent, KernelEvents } from '../../kernel/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { Desired, ObjectKind, PeerKernel, Present } from '../kernel-objects.ts';

export interface PeerPlan {
  readonly objects: readonly Desired[];
  /**
   * Why the peer, or part of it, is not programmed, as clauses completing "peer <subnet> at <ip> ...",
   * e.g. "is not on the same L2 network as eth0: ...". Logged at warn whenever they change.
   */
  readonly problems: readonly string[];
}

/** What a backend contributes: its devices, its per-peer plan and the extent of its kernel state. */
export interface DataPlane {
  /** Notification groups that can reveal drift in this data plane. */
  readonly eventGroups: readonly EventGroup[];
  /**
   * Brings local devices back into shape and refreshes what `plan` depends on. Runs before every
   * full pass. May return a fingerprint of everything `plan` depends on besides the lease (device
   * indexes, MACs, on-link prefixes...): while it is unchanged, a full pass reuses the plans of
   * peers whose lease did not change instead of re-planning every peer. Without one, every full
   * pass re-plans every peer.
   */
  prepare(): Promise<string | void>;
  plan(lease: Lease): PeerPlan;
  /**
   * Shows `visit` every object in this data plane's domain now in the kernel, as the listing
   * arrives (thousands of objects are never held at once); those no peer plans are deleted.
   */
  listPresent(visit: (p: Present) => void): Promise<void>;
  /** True when a link or address notification calls for a full pass (device deleted, MAC rewritten, link flap). */
  needsReconcile(event: KernelEvent): boolean;
  linkName(index: number): string;
}

export interface PassSummary {
  readonly kind: 'full' | 'incremental';
  readonly peers: number;
  readonly applied: number;
  readonly removed: number;
  readonly failed: number;
  readonly ms: number;
  /** Objects re-applied because the kernel lost or changed them (drift), by kind; full passes only. */
  readonly repairs?: ObjectCounts;
  /** Kernel requests of this pass that failed, by kind. */
  readonly failures?: ObjectCounts;
  /** Peers after the pass, by address family: known, and programmed (objects in place, no problem). */
  readonly families?: Readonly<Record<'ipv4' | 'ipv6', { readonly known: number; readonly programmed: number }>>;
}

export type ObjectCounts = Readonly<Record<ObjectKind, number>>;

/** Knobs a backend factory passes through (tests and benchmarks use them). */
export interface ReconcileTuning {
  /** Quiet time between a drift notification and the repair pass (default 100 ms). */
  readonly repairDelayMs?: number;
  /** Delay before retrying a pass that failed (default 1 s), doubling up to reconcileIntervalMs. */
  readonly retryDelayMs?: number;
  /** Called after every pass. */
  readonly onPass?: (summary: PassSummary) => void;
  /** Time between full passes that re-check every peer (default 10 s). */
  readonly reconcileIntervalMs?: number;
}

export const DEFAULT_RECONCILE_INTERVAL_MS = 10_000;

export interface ReconcilerOptions extends ReconcileTuning {
  readonly kernel: PeerKernel & KernelEvents;
  readonly log: Logger;
}

/** One kernel change of a pass. */
export type Work = { op: 'apply'; o: Desired; key: string } | { op: 'remove'; o: Desired | Present; key: string; stale: boolean };

export interface PassResult {
  readonly applied: number;
  readonly removed: number;
  readonly failed: number;
  readonly failures?: ObjectCounts;
  readonly repairs?: ObjectCounts;
}
