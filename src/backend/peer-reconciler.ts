/**
 * @module backend/peer-reconciler
 * Keeps the kernel objects a data plane wants for its peers (routes, neighbours, FDB entries) in
 * place. Lease events are only queued by the watch and applied in batches by a separate loop, so
 * a slow kernel never stalls the watch (upstream's 5000-deep channel did, ff#2251). Every batch
 * is issued at once: the Kernel pipelines concurrent requests.
 *
 * Two kinds of pass:
 * - incremental, for lease changes: diff each changed peer's plan against its previous one;
 * - full, at start, periodically, after a drift notification, an overrun or a failure: let the
 *   data plane repair its devices, re-plan every peer, list what is in the kernel, re-apply what
 *   is missing or different and delete what no peer owns (garbage from vanished peers).
 * Kernel notifications are subscribed to only after the first full pass: the netlink Kernel
 * paces requests while anyone listens, and that first pass is the big one.
 */
import { describeError } from '../errors/index.ts';
import { describeLease, leaseId, type Lease } from '../lease/index.ts';
import type { EventGroup, KernelEvent, KernelEvents } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';
import { applyDesired, applyRank, describeObject, keyOf, removeObject, removeRank, sameDesired, satisfies, type Desired, type PeerKernel, type Present } from './kernel-objects.ts';
import type { PeerBatch } from '../subnet/index.ts';

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
}

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

interface PeerState {
  lease: Lease;
  /** The identity keys of `objects`, index for index. */
  keys: string[];
  objects: Desired[];
  problems: string;
  programmed: boolean;
}

/**
 * Who wants one kernel object. Kept small (thousands of them live as long as the peers): almost
 * every object has one owner, so `peers` is that peer's id, an array only when several share it.
 */
interface Owner {
  /** The map key, so peers' key lists can share the string instead of holding a copy each. */
  readonly key: string;
  desired: Desired;
  peers: string | string[];
  /** The full pass that last found the object in place (see #fullPass). */
  seen: number;
}

type Work = { op: 'apply'; o: Desired; key: string } | { op: 'remove'; o: Desired | Present; key: string; stale: boolean };

const LOG_EXAMPLES = 10;
/** Kernel changes outstanding at once (see #execute). */
const IN_FLIGHT = 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class PeerReconciler {
  readonly #plane: DataPlane;
  readonly #o: ReconcilerOptions;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #peers = new Map<string, PeerState>();
  readonly #owners = new Map<string, Owner>();
  /** prepare()'s fingerprint at the last full pass; undefined: re-plan every peer next time. */
  #planInputs: string | undefined;
  #passes = 0;
  /** Lease changes not yet applied, latest per peer; null = removed. */
  readonly #pending = new Map<string, Lease | null>();
  #synced = false;
  #fullDue = false;
  #subscribed = false;
  #stopped = false;
  #wakeUp: (() => void) | undefined;
  #repairTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs: number;
  /** Last error logged per object key, so a persistent failure is not re-logged every pass. */
  readonly #lastErrors = new Map<string, string>();

  constructor(plane: DataPlane, options: ReconcilerOptions) {
    this.#plane = plane;
    this.#o = options;
    this.#intervalMs = options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
    this.#log = options.log;
    this.#retryMs = options.retryDelayMs ?? 1000;
  }

  /** Peers currently known (for diagnostics and tests). */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Consumes the peer stream until `signal` aborts or the stream ends; rejects if the stream fails. */
  async run(stream: AsyncIterable<PeerBatch>, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    stop.signal.addEventListener('abort', () => this.#wake(), { once: true });
    const interval = this.#intervalMs;
    const periodic = interval > 0 ? setInterval(() => this.#requestFull(), Math.min(interval, MAX_TIMER_MS)) : undefined;
    const loop = this.#applyLoop(stop.signal);
    try {
      for await (const batch of stream) this.#enqueue(batch);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#stopped = true;
      stop.abort();
      await loop;
      clearInterval(periodic);
      clearTimeout(this.#repairTimer);
      clearTimeout(this.#retryTimer);
    }
  }

  #enqueue(batch: PeerBatch): void {
    for (const ev of batch.events) this.#pending.set(leaseId(ev.lease), ev.type === 'added' ? ev.lease : null);
    if (batch.snapshot && !this.#synced) {
      this.#synced = true;
      this.#fullDue = true;
    }
    this.#wake();
  }

  #wake(): void {
    const w = this.#wakeUp;
    this.#wakeUp = undefined;
    w?.();
  }

  #requestFull(): void {
    this.#fullDue = true;
    this.#wake();
  }

  #scheduleRepair(): void {
    if (this.#repairTimer || this.#stopped) return;
    this.#repairTimer = setTimeout(() => {
      this.#repairTimer = undefined;
      this.#requestFull();
    }, this.#o.repairDelayMs ?? 100);
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    const ms = this.#retryMs;
    this.#retryMs = Math.min(ms * 2, Math.max(ms, this.#intervalMs), MAX_TIMER_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#requestFull();
    }, ms);
  }

  async #applyLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(this.#synced && (this.#fullDue || this.#pending.size > 0))) {
        await new Promise<void>((resolve) => (this.#wakeUp = resolve));
        continue;
      }
      // One event-loop turn lets lease events that are already on their way join this batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted) break;
      const full = this.#fullDue;
      const started = performance.now();
      let result = { applied: 0, removed: 0, failed: 1 };
      try {
        result = full ? await this.#fullPass() : await this.#incrementalPass();
      } catch (err) {
        this.#log.error(`reconciling peers failed, retrying: ${describeError(err)}`);
      }
      if (result.failed > 0) this.#scheduleRetry();
      else this.#retryMs = this.#o.retryDelayMs ?? 1000;
      try {
        if (full && !this.#subscribed && !signal.aborted) this.#subscribe(signal);
        this.#o.onPass?.({ kind: full ? 'full' : 'incremental', peers: this.#peers.size, ...result, ms: performance.now() - started });
      } catch (err) {
        this.#log.error(`watching kernel notifications failed: ${describeError(err)}`);
      }
    }
  }

  #subscribe(signal: AbortSignal): void {
    this.#subscribed = true;
    this.#o.kernel.subscribe(this.#plane.eventGroups, signal, (ev) => this.#onEvent(ev));
  }

  #onEvent(ev: KernelEvent): void {
    switch (ev.type) {
      case 'overrun':
        this.#log.warn('kernel notifications were lost (receive buffer overrun): re-checking every peer');
        this.#requestFull();
        return;
      case 'route':
        return this.#checkDrift({ kind: 'route', route: ev.route }, ev.action);
      case 'neigh':
        return this.#checkDrift({ kind: 'neigh', neighbor: ev.neighbor }, ev.action);
      case 'fdb':
        return this.#checkDrift({ kind: 'fdb', fdb: ev.fdb }, ev.action);
      default:
        if (this.#plane.needsReconcile(ev)) this.#scheduleRepair();
    }
  }

  #checkDrift(p: Present, action: 'new' | 'del'): void {
    const owner = this.#owners.get(keyOf(p));
    if (!owner) return;
    if (action === 'del' || !satisfies(owner.desired, p)) this.#scheduleRepair();
  }

  #takePending(): Array<[string, Lease | null]> {
    const changes = [...this.#pending];
    this.#pending.clear();
    return changes;
  }

  /** Re-plans one peer; logs its problems when they change. */
  #plan(lease: Lease, old: PeerState | undefined): PeerState {
    const plan = this.#plane.plan(lease);
    const problems = plan.problems.join('; ');
    if (problems && problems !== old?.problems) this.#log.warn(`peer ${peerName(lease)} ${problems}`, peerFields(lease));
    const objects = [...plan.objects];
    const keys = objects.map(keyOf);
    const state: PeerState = { lease, keys, objects, problems, programmed: false };
    state.programmed = old !== undefined && old.lease === lease && old.programmed && sameObjects(old, state);
    return state;
  }

  /** Records that `id` wants `desired`; returns the owners' copy of `key`. */
  #claim(id: string, key: string, desired: Desired): string {
    const owner = this.#owners.get(key);
    if (!owner) {
      this.#owners.set(key, { key, desired, peers: id, seen: 0 });
      return key;
    }
    owner.desired = desired;
    if (owner.peers !== id && !(Array.isArray(owner.peers) && owner.peers.includes(id))) {
      owner.peers = Array.isArray(owner.peers) ? [...owner.peers, id] : [owner.peers, id];
    }
    return owner.key;
  }

  /** Drops `id`'s claim; true when nobody wants the object any more. */
  #release(id: string, key: string): boolean {
    const owner = this.#owners.get(key);
    if (!owner) return false;
    if (Array.isArray(owner.peers)) {
      const rest = owner.peers.filter((p) => p !== id);
      owner.peers = rest.length === 1 ? (rest[0] as string) : rest;
      if (rest.length > 0) return false;
    } else if (owner.peers !== id) {
      return false;
    }
    this.#owners.delete(key);
    return true;
  }

  /** Replaces `id`'s state: releases the objects it no longer wants (returned with their keys), claims the new ones. */
  #replace(id: string, old: PeerState | undefined, state: PeerState | undefined, released: (key: string, o: Desired) => void): void {
    if (old) {
      old.keys.forEach((key, i) => {
        if (state?.keys.includes(key)) return;
        if (this.#release(id, key)) released(key, old.objects[i] as Desired);
      });
    }
    if (state) {
      state.keys.forEach((key, i) => (state.keys[i] = this.#claim(id, key, state.objects[i] as Desired)));
      this.#peers.set(id, state);
    } else {
      this.#peers.delete(id);
    }
  }

  async #incrementalPass(): Promise<{ applied: number; removed: number; failed: number }> {
    const work: Work[] = [];
    const touched: Array<{ id: string; old: PeerState | undefined; state: PeerState | undefined; keys: string[] }> = [];
    for (const [id, lease] of this.#takePending()) {
      const old = this.#peers.get(id);
      const state = lease ? this.#plan(lease, old) : undefined;
      // What changes, decided before the claims below overwrite the owners' desired values.
      const keys: string[] = [];
      state?.keys.forEach((key, i) => {
        const o = state.objects[i] as Desired;
        const prev = this.#owners.get(key);
        if (prev !== undefined && sameDesired(prev.desired, o)) return;
        work.push({ op: 'apply', o, key });
        keys.push(key);
      });
      this.#replace(id, old, state, (key, o) => work.push({ op: 'remove', o, key, stale: false }));
      touched.push({ id, old, state, keys });
    }
    // A key one peer dropped and another took in the same batch is simply replaced.
    const applied = new Set(work.filter((w) => w.op === 'apply').map((w) => w.key));
    const todo = work.filter((w) => w.op === 'apply' || !applied.has(w.key));
    const failures = await this.#execute(todo);
    for (const { old, state, keys } of touched) {
      if (!state) {
        if (old) this.#log.info(`peer removed: ${describeLease(old.lease)}`, peerFields(old.lease));
        continue;
      }
      if (state.objects.length === 0) continue;
      if (keys.some((k) => failures.has(k))) continue;
      // Nothing changed for a peer still awaiting a retry: the full pass will tell.
      if (!state.programmed && (keys.length > 0 || old?.programmed)) {
        state.programmed = true;
        this.#log.info(`peer ${old ? 'updated' : 'added'}: ${describeLease(state.lease)}`, { ...peerFields(state.lease), objects: state.objects.length });
      }
    }
    return tally(todo, failures);
  }

  async #fullPass(): Promise<{ applied: number; removed: number; failed: number }> {
    this.#fullDue = false;
    const inputs = (await this.#plane.prepare()) ?? undefined;
    const replanAll = inputs === undefined || inputs !== this.#planInputs;
    // Set only once this pass has planned with them (a failing pass re-plans next time).
    this.#planInputs = undefined;
    const removedPeers: PeerState[] = [];
    /** Keys given up in this pass: their objects went with their peers, they are not stale garbage. */
    const released = new Set<string>();
    const onRelease = (key: string): void => void released.add(key);
    const planned = new Set<string>();
    for (const [id, lease] of this.#takePending()) {
      const old = this.#peers.get(id);
      if (lease) {
        this.#replace(id, old, this.#plan(lease, old), onRelease);
        if (replanAll) planned.add(id);
      } else if (old) {
        this.#replace(id, old, undefined, onRelease);
        removedPeers.push(old);
      }
    }
    if (replanAll) {
      // Plans depend on devices and addresses that may have changed: every peer again.
      for (const [id, old] of this.#peers) {
        if (planned.has(id)) continue;
        const state = this.#plan(old.lease, old);
        state.programmed = old.programmed;
        this.#replace(id, old, state, onRelease);
      }
    }

    // Compare the listing with what is wanted without materialising either side: owners found
    // in place are stamped with this pass's number.
    const pass = ++this.#passes;
    const work: Work[] = [];
    /** FDB entries under a wanted key that are not what we want (an FDB entry is appended, not replaced). */
    const wrongFdb = new Map<string, Present[]>();
    await this.#plane.listPresent((p) => {
      const key = keyOf(p);
      const owner = this.#owners.get(key);
      if (!owner) {
        // Objects we wanted until this pass went with their peers; anything else is garbage.
        work.push({ op: 'remove', o: p, key, stale: !released.has(key) });
      } else if (satisfies(owner.desired, p)) {
        owner.seen = pass;
      } else if (owner.desired.kind === 'fdb') {
        const list = wrongFdb.get(key);
        if (list) list.push(p);
        else wrongFdb.set(key, [p]);
      }
    });
    for (const [key, owner] of this.#owners) {
      if (owner.seen === pass) continue;
      // A wrong FDB entry must go first.
      for (const p of wrongFdb.get(key) ?? []) work.push({ op: 'remove', o: p, key, stale: false });
      work.push({ op: 'apply', o: owner.desired, key });
    }

    const failures = await this.#execute(work);
    this.#logFullPass(work, failures, removedPeers);
    this.#planInputs = inputs;
    return tally(work, failures);
  }

  #logFullPass(work: readonly Work[], failures: ReadonlyMap<string, unknown>, removedPeers: readonly PeerState[]): void {
    const name = (i: number): string => this.#plane.linkName(i);
    for (const old of removedPeers) this.#log.info(`peer removed: ${describeLease(old.lease)}`, peerFields(old.lease));
    const repaired = new Sample();
    const stale = new Sample();
    for (const w of work) {
      if (failures.has(w.key)) continue;
      if (w.op === 'remove') {
        if (w.stale) stale.add(() => describeObject(w.o, name));
        continue;
      }
      // Objects of peers that were already in place count as repairs; the rest is first programming.
      const owners = this.#owners.get(w.key)?.peers ?? [];
      if ((typeof owners === 'string' ? [owners] : owners).every((id) => this.#peers.get(id)?.programmed)) repaired.add(() => describeObject(w.o, name));
    }
    if (repaired.count > 0) this.#log.info(`repaired ${repaired.count} kernel object(s) that were missing or changed: ${repaired.text()}`, { repaired: repaired.count });
    if (stale.count > 0) this.#log.info(`removed ${stale.count} stale kernel object(s) no peer owns: ${stale.text()}`, { removed: stale.count });
    for (const state of this.#peers.values()) {
      if (state.programmed || state.objects.length === 0) continue;
      if (state.keys.some((k) => failures.has(k))) continue;
      state.programmed = true;
      this.#log.info(`peer added: ${describeLease(state.lease)}`, { ...peerFields(state.lease), objects: state.objects.length });
    }
  }

  /**
   * Issues every change in kernel-safe order, at most IN_FLIGHT at a time (the kernel pipeline
   * keeps about that many in flight anyway; issuing thousands at once only holds their encoded
   * requests and promises in memory); returns the failures by object key.
   */
  async #execute(work: readonly Work[]): Promise<Map<string, unknown>> {
    const ordered = [
      ...work.filter((w) => w.op === 'remove').sort((a, b) => removeRank(a.o) - removeRank(b.o)),
      ...work.filter((w): w is Extract<Work, { op: 'apply' }> => w.op === 'apply').sort((a, b) => applyRank(a.o) - applyRank(b.o)),
    ];
    const kernel = this.#o.kernel;
    const failures = new Map<string, unknown>();
    const fresh = new Map<string, Sample>();
    const settle = (w: Work, err: unknown, failed: boolean): void => {
      if (!failed) {
        if (this.#lastErrors.size > 0) this.#lastErrors.delete(w.key);
        return;
      }
      failures.set(w.key, err);
      const reason = describeError(err);
      if (this.#lastErrors.get(w.key) === reason) return;
      this.#lastErrors.set(w.key, reason);
      const code = (err as { code?: unknown }).code;
      const group = typeof code === 'string' ? code : reason;
      const sample = fresh.get(group) ?? new Sample();
      fresh.set(group, sample);
      sample.add(() => `${w.op === 'apply' ? 'install' : 'delete'} ${describeObject(w.o, (x) => this.#plane.linkName(x))}: ${reason}`);
    };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < ordered.length) {
        const w = ordered[next++] as Work;
        try {
          await (w.op === 'apply' ? applyDesired(kernel, w.o) : removeObject(kernel, w.o));
          settle(w, undefined, false);
        } catch (err) {
          settle(w, err, true);
        }
      }
    };
    // Lanes take the next change as soon as theirs is done, so changes go out in order.
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, ordered.length) }, lane));
    for (const [group, sample] of fresh) {
      this.#log.warn(`${sample.count} kernel change(s) failed (${group}), will retry: ${sample.text()}`, { failed: sample.count, code: group });
    }
    return failures;
  }
}

function sameObjects(a: PeerState, b: PeerState): boolean {
  if (a.keys.length !== b.keys.length) return false;
  return a.keys.every((key, i) => {
    const j = b.keys.indexOf(key);
    return j >= 0 && sameDesired(a.objects[i] as Desired, b.objects[j] as Desired);
  });
}

function tally(work: readonly Work[], failures: ReadonlyMap<string, unknown>): { applied: number; removed: number; failed: number } {
  let applied = 0;
  let removed = 0;
  for (const w of work) {
    if (failures.has(w.key)) continue;
    if (w.op === 'apply') applied++;
    else removed++;
  }
  return { applied, removed, failed: failures.size };
}

/** Counts items and keeps the first few descriptions for a log line (describing thousands is wasted work). */
class Sample {
  count = 0;
  readonly #shown: string[] = [];

  add(describe: () => string): void {
    if (this.count++ < LOG_EXAMPLES) this.#shown.push(describe());
  }

  text(): string {
    const rest = this.count - this.#shown.length;
    return rest > 0 ? `${this.#shown.join(', ')} and ${rest} more` : this.#shown.join(', ');
  }
}

/** "10.244.2.0/24 at 192.0.2.12". */
function peerName(lease: Lease): string {
  const subnets = [lease.subnet, lease.ipv6Subnet].filter(Boolean).map(String).join(' + ');
  const at = [lease.attrs.publicIP, lease.attrs.publicIPv6].filter(Boolean).map(String).join(' / ');
  return `${subnets} at ${at || '(no public IP)'}`;
}

function peerFields(lease: Lease): Record<string, string | undefined> {
  return { subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), publicIP: lease.attrs.publicIP?.toString() };
}
