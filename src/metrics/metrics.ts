/**
 * @module metrics/metrics
 * One daemon's Prometheus metrics: a prom-client Registry of its own (never the global default,
 * so tests and several daemons in one process do not mix), every metric of names.ts, and typed
 * helpers the instrumented seams call. Labels are bounded: backend, family, kind, op, result,
 * direction, device; never a peer. Values that already exist elsewhere (udp packet counters,
 * wireguard-go restarts, the lease's expiry) are read when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC } from './names.ts';

export type Datastore = 'etcd' | 'kube';
export type Family = 'ipv4' | 'ipv6';
export type ObjectKind = 'route' | 'neigh' | 'fdb';
export type KernelOp = ObjectKind | 'link' | 'addr';

export interface MetricsInfo {
  readonly version: string;
  readonly datastore: Datastore;
}

/** What this node holds (a Lease, narrowed so this module depends on nothing of flannel's). */
export interface LeaseView {
  readonly subnet?: { toString(): string };
  readonly ipv6Subnet?: { toString(): string };
  /** Undefined for a reservation. */
  readonly expiration?: Date;
}

/** One reconciler pass, as the metrics need it (PassSummary fits). */
export interface PassView {
  readonly kind: 'full' | 'incremental';
  readonly applied: number;
  readonly removed: number;
  readonly failed: number;
  readonly ms: number;
  readonly repairs?: Readonly<Record<ObjectKind, number>>;
  readonly failures?: Readonly<Record<ObjectKind, number>>;
  readonly families?: Readonly<Record<Family, { readonly known: number; readonly programmed: number }>>;
}

/** Packet totals of the udp backend since it started. */
export interface UdpPacketCounts {
  readonly toPeer: { readonly forwarded: number; readonly dropped: number };
  readonly fromPeer: { readonly forwarded: number; readonly dropped: number };
}

/** A lease as the peer counts need it (a Lease fits). */
export interface PeerView {
  readonly subnet?: { toString(): string };
  readonly ipv6Subnet?: { toString(): string };
  readonly attrs: { readonly backendType: string };
}

/** A lease-watch result, as the metrics need it (WatchResult fits). */
export type WatchView =
  | { readonly kind: 'events'; readonly events: ReadonlyArray<{ readonly type: 'added' | 'removed'; readonly lease: PeerView }> }
  | { readonly kind: 'snapshot'; readonly leases: readonly PeerView[] };

export interface FlannelMetrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text (the Prometheus text format). */
  readonly contentType: string;
  /** The exposition, as /metrics serves it. */
  render(): Promise<string>;
  /** The backend type is known once the network configuration is read. */
  setBackend(backend: string): void;
  setLease(lease: LeaseView): void;
  leaseRenewed(lease: LeaseView): void;
  leaseReacquired(lease: LeaseView): void;
  reconcilePass(backend: string, pass: PassView): void;
  kernelRequestFailed(op: KernelOp, count?: number): void;
  /** Every result of the lease stream: events, re-lists, and the peers known (every lease but ours). */
  watchResult(result: WatchView): void;
  /** The datastore's watch connected (true) or broke and retries (false). */
  datastoreWatchState(up: boolean): void;
  trafficResync(outcome: { readonly ok: boolean; readonly seconds: number; readonly restored: number }): void;
  /** The udp backend's counters, read at every scrape (a new reader replaces the previous one; totals carry over). */
  readUdpPackets(read: () => UdpPacketCounts): void;
  /** A wireguard-go supervisor's restart count, read at every scrape. */
  readWireguardGoRestarts(device: string, read: () => number): void;
}

const OBJECT_KINDS: readonly ObjectKind[] = ['route', 'neigh', 'fdb'];
const KERNEL_OPS: readonly KernelOp[] = [...OBJECT_KINDS, 'link', 'addr'];
const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];
const PASS_KINDS = ['full', 'incremental'] as const;
/** 1 ms .. 10 s: an incremental pass of one peer takes about a millisecond, a first pass at 5000 peers seconds. */
const RECONCILE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** An iptables-save/nft list round trip takes tens of milliseconds. */
const RESYNC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * How often the event-loop delay monitor behind `nodejs_eventloop_lag_*` samples, in ms.
 * prom-client's 10 ms woke an idle daemon 100 times a second, ~0.6% of a core per node (a lab of
 * 100 nodes spent over half a core on it); every 100 ms it is ~0.1%. The samples are the whole
 * interval between two wake-ups, so the gauges read the precision plus the lag: ~0.100 s idle.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

const text = (v: { toString(): string } | undefined): string => v?.toString() ?? '';

/** Sums readers that come and go: a replaced reader's last values carry over, so the totals never go down. */
class ReaderTotals<T> {
  #reader: (() => T) | undefined;
  #base: number[] = [];
  readonly #values: (t: T) => number[];

  constructor(values: (t: T) => number[]) {
    this.#values = values;
  }

  replace(read: () => T): void {
    if (this.#reader) this.#base = this.now();
    this.#reader = read;
  }

  now(): number[] {
    const current = this.#reader ? this.#values(this.#reader()) : [];
    const n = Math.max(current.length, this.#base.length);
    return Array.from({ length: n }, (_, i) => (this.#base[i] ?? 0) + (current[i] ?? 0));
  }
}

export function createMetrics(info: MetricsInfo): FlannelMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  let lease: LeaseView | undefined;

  const buildInfo = new Gauge({ name: METRIC.buildInfo[0], help: METRIC.buildInfo[1], labelNames: ['version', 'backend', 'datastore'] as const, registers });
  const leaseInfo = new Gauge({ name: METRIC.leaseInfo[0], help: METRIC.leaseInfo[1], labelNames: ['subnet', 'ipv6_subnet'] as const, registers });
  // Registered only while the lease has an expiry: a gauge without labels would otherwise show 0.
  const leaseExpiry = new Gauge({
    name: METRIC.leaseExpiry[0],
    help: METRIC.leaseExpiry[1],
    registers: [],
    collect() {
      const at = lease?.expiration?.getTime();
      if (at !== undefined) this.set(Math.max(0, (at - Date.now()) / 1000));
    },
  });
  const renewals = new Counter({ name: METRIC.leaseRenewals[0], help: METRIC.leaseRenewals[1], registers });
  const reacquisitions = new Counter({ name: METRIC.leaseReacquisitions[0], help: METRIC.leaseReacquisitions[1], registers });
  // Every lease of the stream by subnet key; counted at scrape time, our own lease left out.
  const known = new Map<string, PeerView>();
  const keyOf = (l: { subnet?: { toString(): string }; ipv6Subnet?: { toString(): string } }): string => `${text(l.subnet)}&${text(l.ipv6Subnet)}`;
  new Gauge({
    name: METRIC.peers[0],
    help: METRIC.peers[1],
    labelNames: ['backend', 'family'] as const,
    registers,
    collect() {
      this.reset();
      const own = lease ? keyOf(lease) : undefined;
      for (const [key, peer] of known) {
        if (key === own) continue;
        if (peer.subnet) this.inc({ backend: peer.attrs.backendType, family: 'ipv4' });
        if (peer.ipv6Subnet) this.inc({ backend: peer.attrs.backendType, family: 'ipv6' });
      }
    },
  });
  const peersProgrammed = new Gauge({ name: METRIC.peersProgrammed[0], help: METRIC.peersProgrammed[1], labelNames: ['backend', 'family'] as const, registers });
  const passes = new Counter({ name: METRIC.reconcilePasses[0], help: METRIC.reconcilePasses[1], labelNames: ['kind'] as const, registers });
  const passDuration = new Histogram({ name: METRIC.reconcileDuration[0], help: METRIC.reconcileDuration[1], labelNames: ['kind'] as const, buckets: RECONCILE_BUCKETS, registers });
  const objects = new Counter({ name: METRIC.reconcileObjects[0], help: METRIC.reconcileObjects[1], labelNames: ['op'] as const, registers });
  const repairs = new Counter({ name: METRIC.reconcileRepairs[0], help: METRIC.reconcileRepairs[1], labelNames: ['kind'] as const, registers });
  const kernelErrors = new Counter({ name: METRIC.kernelErrors[0], help: METRIC.kernelErrors[1], labelNames: ['op'] as const, registers });
  const datastoreUp = new Gauge({ name: METRIC.datastoreUp[0], help: METRIC.datastoreUp[1], registers });
  const watchRestarts = new Counter({ name: METRIC.watchRestarts[0], help: METRIC.watchRestarts[1], registers });
  const events = new Counter({ name: METRIC.datastoreEvents[0], help: METRIC.datastoreEvents[1], registers });
  const lastEvent = new Gauge({ name: METRIC.lastEvent[0], help: METRIC.lastEvent[1], registers });
  const resyncs = new Counter({ name: METRIC.trafficResyncs[0], help: METRIC.trafficResyncs[1], labelNames: ['result'] as const, registers });
  const resyncDuration = new Histogram({ name: METRIC.trafficResyncDuration[0], help: METRIC.trafficResyncDuration[1], buckets: RESYNC_BUCKETS, registers });
  const restored = new Counter({ name: METRIC.trafficRestored[0], help: METRIC.trafficRestored[1], registers });

  const udp = new ReaderTotals<UdpPacketCounts>((c) => [c.toPeer.forwarded, c.toPeer.dropped, c.fromPeer.forwarded, c.fromPeer.dropped]);
  let udpSeen = false;
  new Counter({
    name: METRIC.udpPackets[0],
    help: METRIC.udpPackets[1],
    labelNames: ['direction', 'result'] as const,
    registers,
    collect() {
      if (!udpSeen) return;
      const [tf = 0, td = 0, ff = 0, fd = 0] = udp.now();
      this.reset();
      this.inc({ direction: 'to_peer', result: 'forwarded' }, tf);
      this.inc({ direction: 'to_peer', result: 'dropped' }, td);
      this.inc({ direction: 'from_peer', result: 'forwarded' }, ff);
      this.inc({ direction: 'from_peer', result: 'dropped' }, fd);
    },
  });
  const wgRestarts = new Map<string, ReaderTotals<number>>();
  new Counter({
    name: METRIC.wireguardGoRestarts[0],
    help: METRIC.wireguardGoRestarts[1],
    labelNames: ['device'] as const,
    registers,
    collect() {
      this.reset();
      for (const [device, totals] of wgRestarts) this.inc({ device }, totals.now()[0] ?? 0);
    },
  });

  // Label values known in advance start at 0, so rate() and increase() see the first change.
  for (const kind of PASS_KINDS) passes.inc({ kind }, 0);
  for (const op of ['applied', 'removed', 'failed']) objects.inc({ op }, 0);
  for (const kind of OBJECT_KINDS) repairs.inc({ kind }, 0);
  for (const op of KERNEL_OPS) kernelErrors.inc({ op }, 0);
  for (const result of ['ok', 'failed']) resyncs.inc({ result }, 0);
  datastoreUp.set(0);

  const showLease = (l: LeaseView): void => {
    lease = l;
    leaseInfo.reset();
    leaseInfo.set({ subnet: text(l.subnet), ipv6_subnet: text(l.ipv6Subnet) }, 1);
    const registered = registry.getSingleMetric(METRIC.leaseExpiry[0]) !== undefined;
    if (l.expiration && !registered) registry.registerMetric(leaseExpiry);
    if (!l.expiration && registered) registry.removeSingleMetric(METRIC.leaseExpiry[0]);
  };
  let watchedBefore = false;

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    setBackend(backend) {
      buildInfo.reset();
      buildInfo.set({ version: info.version, backend, datastore: info.datastore }, 1);
    },
    setLease: showLease,
    leaseRenewed(l) {
      renewals.inc();
      showLease(l);
    },
    leaseReacquired(l) {
      reacquisitions.inc();
      showLease(l);
    },
    reconcilePass(backend, pass) {
      passes.inc({ kind: pass.kind });
      passDuration.observe({ kind: pass.kind }, pass.ms / 1000);
      objects.inc({ op: 'applied' }, pass.applied);
      objects.inc({ op: 'removed' }, pass.removed);
      objects.inc({ op: 'failed' }, pass.failed);
      for (const kind of OBJECT_KINDS) {
        const repaired = pass.repairs?.[kind] ?? 0;
        if (repaired > 0) repairs.inc({ kind }, repaired);
        const failed = pass.failures?.[kind] ?? 0;
        if (failed > 0) kernelErrors.inc({ op: kind }, failed);
      }
      if (pass.families) {
        for (const family of FAMILIES) {
          peersProgrammed.set({ backend, family }, pass.families[family].programmed);
        }
      }
    },
    kernelRequestFailed(op, count = 1) {
      kernelErrors.inc({ op }, count);
    },
    watchResult(result) {
      lastEvent.set(Date.now() / 1000);
      if (result.kind === 'events') {
        events.inc(result.events.length);
        for (const e of result.events) {
          if (e.type === 'added') known.set(keyOf(e.lease), e.lease);
          else known.delete(keyOf(e.lease));
        }
        return;
      }
      known.clear();
      for (const l of result.leases) known.set(keyOf(l), l);
      if (watchedBefore) watchRestarts.inc();
      watchedBefore = true;
      datastoreUp.set(1);
    },
    datastoreWatchState(up) {
      datastoreUp.set(up ? 1 : 0);
    },
    trafficResync({ ok, seconds, restored: n }) {
      resyncs.inc({ result: ok ? 'ok' : 'failed' });
      resyncDuration.observe(seconds);
      if (n > 0) restored.inc(n);
    },
    readUdpPackets(read) {
      udpSeen = true;
      udp.replace(read);
    },
    readWireguardGoRestarts(device, read) {
      const totals = wgRestarts.get(device) ?? new ReaderTotals<number>((n) => [n]);
      totals.replace(read);
      wgRestarts.set(device, totals);
    },
  };
}
