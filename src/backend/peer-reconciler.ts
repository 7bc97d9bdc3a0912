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
 *
 * The roles live in reconcile/: when passes run (schedule.ts), who owns which object
 * (ownership.ts), issuing changes (execute.ts), log texts (sample.ts). This file is the passes.
 */
import { describeError } from '../errors/index.ts';
import { describeLease, type Lease } from '../lease/index.ts';
import type { KernelEvent } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';
import { describeObject, keyOf, sameDesired, satisfies, type Desired, type Present } from './kernel-objects.ts';
import type { PeerBatch } from '../subnet/index.ts';
import { WorkExecutor, tally } from './reconcile/execute.ts';
import { OwnershipIndex, sameObjects, type PeerState } from './reconcile/ownership.ts';
import { Sample, peerFields, peerName } from './reconcile/sample.ts';
import { PassSchedule } from './reconcile/schedule.ts';
import { DEFAULT_RECONCILE_INTERVAL_MS, type DataPlane, type ObjectCounts, type PassResult, type PassSummary, type ReconcilerOptions, type Work } from './reconcile/types.ts';

export { DEFAULT_RECONCILE_INTERVAL_MS, type DataPlane, type PassSummary, type PeerPlan, type ReconcileTuning, type ReconcilerOptions } from './reconcile/types.ts';

export class PeerReconciler {
  readonly #plane: DataPlane;
  readonly #o: ReconcilerOptions;
  readonly #log: Logger;
  readonly #index = new OwnershipIndex();
  readonly #schedule: PassSchedule;
  readonly #executor: WorkExecutor;
  /** prepare()'s fingerprint at the last full pass; undefined: re-plan every peer next time. */
  #planInputs: string | undefined;
  #passes = 0;
  #subscribed = false;

  constructor(plane: DataPlane, options: ReconcilerOptions) {
    this.#plane = plane;
    this.#o = options;
    this.#log = options.log;
    this.#schedule = new PassSchedule({
      intervalMs: options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS,
      repairDelayMs: options.repairDelayMs ?? 100,
      retryDelayMs: options.retryDelayMs ?? 1000,
    });
    this.#executor = new WorkExecutor(options.kernel, options.log, (i) => plane.linkName(i));
  }

  /** Peers currently known (for diagnostics and tests). */
  get peerCount(): number {
    return this.#index.peerCount;
  }

  /** Consumes the peer stream until `signal` aborts or the stream ends; rejects if the stream fails. */
  async run(stream: AsyncIterable<PeerBatch>, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    stop.signal.addEventListener('abort', () => this.#schedule.wake(), { once: true });
    this.#schedule.start();
    const loop = this.#applyLoop(stop.signal);
    try {
      for await (const batch of stream) this.#schedule.enqueue(batch);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#schedule.stop();
      stop.abort();
      await loop;
    }
  }

  async #applyLoop(signal: AbortSignal): Promise<void> {
    const schedule = this.#schedule;
    while (!signal.aborted) {
      if (!schedule.hasWork) {
        await schedule.waitForWork();
        continue;
      }
      // One event-loop turn lets lease events that are already on their way join this batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted) break;
      const full = schedule.takeFull();
      const started = performance.now();
      let result: PassResult = { applied: 0, removed: 0, failed: 1 };
      try {
        result = full ? await this.#fullPass() : await this.#incrementalPass();
      } catch (err) {
        this.#log.error(`reconciling peers failed, retrying: ${describeError(err)}`);
      }
      if (result.failed > 0) schedule.scheduleRetry();
      else schedule.resetRetry();
      try {
        if (full && !this.#subscribed && !signal.aborted) this.#subscribe(signal);
        if (this.#o.onPass) this.#o.onPass({ kind: full ? 'full' : 'incremental', peers: this.#index.peerCount, ...result, ms: performance.now() - started, families: this.#familyCounts() });
      } catch (err) {
        this.#log.error(`watching kernel notifications failed: ${describeError(err)}`);
      }
    }
  }

  /** Peers by address family; programmed: every object in place and no problem (a peer with nothing to program is not). */
  #familyCounts(): NonNullable<PassSummary['families']> {
    const v4 = { known: 0, programmed: 0 };
    const v6 = { known: 0, programmed: 0 };
    for (const s of this.#index.peerStates()) {
      const programmed = s.programmed && s.objects.length > 0 && !s.problems ? 1 : 0;
      if (s.lease.subnet) {
        v4.known++;
        v4.programmed += programmed;
      }
      if (s.lease.ipv6Subnet) {
        v6.known++;
        v6.programmed += programmed;
      }
    }
    return { ipv4: v4, ipv6: v6 };
  }

  #subscribe(signal: AbortSignal): void {
    this.#subscribed = true;
    this.#o.kernel.subscribe(this.#plane.eventGroups, signal, (ev) => this.#onEvent(ev));
  }

  #onEvent(ev: KernelEvent): void {
    switch (ev.type) {
      case 'overrun':
        this.#log.warn('kernel notifications were lost (receive buffer overrun): re-checking every peer');
        this.#schedule.requestFull();
        return;
      case 'route':
        return this.#checkDrift({ kind: 'route', route: ev.route }, ev.action);
      case 'neigh':
        return this.#checkDrift({ kind: 'neigh', neighbor: ev.neighbor }, ev.action);
      case 'fdb':
        return this.#checkDrift({ kind: 'fdb', fdb: ev.fdb }, ev.action);
      default:
        if (this.#plane.needsReconcile(ev)) this.#schedule.scheduleRepair();
    }
  }

  #checkDrift(p: Present, action: 'new' | 'del'): void {
    const owner = this.#index.owner(keyOf(p));
    if (!owner) return;
    if (action === 'del' || !satisfies(owner.desired, p)) this.#schedule.scheduleRepair();
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

  async #incrementalPass(): Promise<PassResult> {
    const work: Work[] = [];
    const touched: Array<{ id: string; old: PeerState | undefined; state: PeerState | undefined; keys: string[] }> = [];
    for (const [id, lease] of this.#schedule.takePending()) {
      const old = this.#index.peer(id);
      const state = lease ? this.#plan(lease, old) : undefined;
      // What changes, decided before the claims below overwrite the owners' desired values.
      const keys: string[] = [];
      state?.keys.forEach((key, i) => {
        const o = state.objects[i] as Desired;
        const prev = this.#index.owner(key);
        if (prev !== undefined && sameDesired(prev.desired, o)) return;
        work.push({ op: 'apply', o, key });
        keys.push(key);
      });
      this.#index.replace(id, old, state, (key, o) => work.push({ op: 'remove', o, key, stale: false }));
      touched.push({ id, old, state, keys });
    }
    // A key one peer dropped and another took in the same batch is simply replaced.
    const applied = new Set(work.filter((w) => w.op === 'apply').map((w) => w.key));
    const todo = work.filter((w) => w.op === 'apply' || !applied.has(w.key));
    const failures = await this.#executor.execute(todo);
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

  async #fullPass(): Promise<PassResult> {
    const inputs = (await this.#plane.prepare()) ?? undefined;
    const replanAll = inputs === undefined || inputs !== this.#planInputs;
    // Set only once this pass has planned with them (a failing pass re-plans next time).
    this.#planInputs = undefined;
    const removedPeers: PeerState[] = [];
    /** Keys given up in this pass: their objects went with their peers, they are not stale garbage. */
    const released = new Set<string>();
    const onRelease = (key: string): void => void released.add(key);
    const planned = new Set<string>();
    for (const [id, lease] of this.#schedule.takePending()) {
      const old = this.#index.peer(id);
      if (lease) {
        this.#index.replace(id, old, this.#plan(lease, old), onRelease);
        if (replanAll) planned.add(id);
      } else if (old) {
        this.#index.replace(id, old, undefined, onRelease);
        removedPeers.push(old);
      }
    }
    if (replanAll) {
      // Plans depend on devices and addresses that may have changed: every peer again.
      for (const [id, old] of [...this.#index.peers()]) {
        if (planned.has(id)) continue;
        const state = this.#plan(old.lease, old);
        state.programmed = old.programmed;
        this.#index.replace(id, old, state, onRelease);
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
      const owner = this.#index.owner(key);
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
    for (const [key, owner] of this.#index.owners()) {
      if (owner.seen === pass) continue;
      // A wrong FDB entry must go first.
      for (const p of wrongFdb.get(key) ?? []) work.push({ op: 'remove', o: p, key, stale: false });
      work.push({ op: 'apply', o: owner.desired, key });
    }

    const failures = await this.#executor.execute(work);
    const repairs = this.#logFullPass(work, failures, removedPeers);
    this.#planInputs = inputs;
    return { ...tally(work, failures), repairs };
  }

  /** Logs what the pass changed; returns the repairs by kind. */
  #logFullPass(work: readonly Work[], failures: ReadonlyMap<string, unknown>, removedPeers: readonly PeerState[]): ObjectCounts {
    const name = (i: number): string => this.#plane.linkName(i);
    for (const old of removedPeers) this.#log.info(`peer removed: ${describeLease(old.lease)}`, peerFields(old.lease));
    const repaired = new Sample();
    const repairs = { route: 0, neigh: 0, fdb: 0 };
    const stale = new Sample();
    for (const w of work) {
      if (failures.has(w.key)) continue;
      if (w.op === 'remove') {
        if (w.stale) stale.add(() => describeObject(w.o, name));
        continue;
      }
      // Objects of peers that were already in place count as repairs; the rest is first programming.
      if (this.#index.ownersOf(w.key).every((id) => this.#index.peer(id)?.programmed)) {
        repaired.add(() => describeObject(w.o, name));
        repairs[w.o.kind]++;
      }
    }
    if (repaired.count > 0) this.#log.info(`repaired ${repaired.count} kernel object(s) that were missing or changed: ${repaired.text()}`, { repaired: repaired.count });
    if (stale.count > 0) this.#log.info(`removed ${stale.count} stale kernel object(s) no peer owns: ${stale.text()}`, { removed: stale.count });
    for (const state of this.#index.peerStates()) {
      if (state.programmed || state.objects.length === 0) continue;
      if (state.keys.some((k) => failures.has(k))) continue;
      state.programmed = true;
      this.#log.info(`peer added: ${describeLease(state.lease)}`, { ...peerFields(state.lease), objects: state.objects.length });
    }
    return repairs;
  }
}
