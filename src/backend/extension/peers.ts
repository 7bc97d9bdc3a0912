/**
 * @module backend/extension/peers
 * Runs SubnetAddCommand for every peer that appears or changes and SubnetRemoveCommand for every
 * peer that goes away, one command at a time, in the order the changes arrived. Lease events are
 * taken in as they come (a slow command never holds up the watch); the commands run from a
 * per-peer record of what is wanted and what was done:
 * - a peer is added again only when its lease changed (subnet, PublicIP(v6), BackendData), so a
 *   re-list of the same peers runs nothing;
 * - a failing command is logged with its exit code and stderr and retried for that peer after
 *   2 s, 4 s, 8 s ... up to 60 s, while the other peers go on; a newer change of the peer
 *   replaces the pending retry;
 * - a peer that goes away runs SubnetRemoveCommand if SubnetAddCommand ran for it (even when that
 *   failed: the remove command cleans up what it may have done), with the environment and stdin
 *   the add command got;
 * - leases of other backend types, and BackendData that is not a JSON string, are warned about
 *   and get no command (upstream does the same).
 */
import { describeLease, leaseId, type Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { PeerBatch } from '../../subnet/index.ts';
import { formatSeconds, outputFields, peerEnv, runCommand, type CommandContext } from './commands.ts';
import type { ExtensionConfig } from './config.ts';

export interface RetryPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 2000, maxMs: 60_000 };

export interface PeerCommandsOptions {
  readonly cfg: ExtensionConfig;
  readonly context: Omit<CommandContext, 'signal'>;
  readonly log: Logger;
  readonly retry?: RetryPolicy;
}

interface PeerState {
  /** The peer's lease as last seen. */
  lease: Lease;
  /** The peer exists: SubnetAddCommand should have run for `lease`. */
  present: boolean;
  /** Fingerprint of the lease SubnetAddCommand last succeeded for. */
  added?: string;
  /** The lease SubnetAddCommand last ran for, successful or not (SubnetRemoveCommand gets the same). */
  ranFor?: Lease;
  /** Why the peer gets no command (other backend type, unreadable BackendData). */
  problem?: string;
  failures: number;
  retryAt: number;
}

type Action = 'add' | 'remove';

export class PeerCommands {
  readonly #o: PeerCommandsOptions;
  readonly #retry: RetryPolicy;
  readonly #peers = new Map<string, PeerState>();
  #wake: (() => void) | undefined;

  constructor(o: PeerCommandsOptions) {
    this.#o = o;
    this.#retry = o.retry ?? DEFAULT_RETRY;
  }

  /** Consumes the peer stream and runs the commands until `signal` aborts or the stream fails. */
  async run(stream: AsyncIterable<PeerBatch>, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const worker = this.#work(stop.signal);
    try {
      for await (const batch of stream) {
        this.#take(batch);
        this.#kick();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      this.#kick();
      await worker;
    }
  }

  #take(batch: PeerBatch): void {
    for (const ev of batch.events) {
      const id = leaseId(ev.lease);
      const state = this.#peers.get(id);
      if (ev.type === 'added') {
        const problem = problemOf(ev.lease);
        if (problem && problem !== state?.problem) this.#o.log.warn(`peer ${describeLease(ev.lease)} ${problem}`);
        const next: PeerState = state ?? { lease: ev.lease, present: true, failures: 0, retryAt: 0 };
        // Back after a removal: whatever the remove command did, add it again.
        if (!next.present) delete next.added;
        next.lease = ev.lease;
        next.present = true;
        next.failures = 0;
        next.retryAt = 0;
        if (problem) next.problem = problem;
        else delete next.problem;
        // Without a SubnetAddCommand there is nothing to run first: the peer is as good as added.
        if (!problem && !this.#o.cfg.subnetAddCommand) next.ranFor = ev.lease;
        this.#peers.set(id, next);
      } else if (state) {
        state.lease = ev.lease;
        state.present = false;
        state.failures = 0;
        state.retryAt = 0;
        if (!state.ranFor || !this.#o.cfg.subnetRemoveCommand) this.#peers.delete(id);
      }
    }
  }

  #pending(s: PeerState): Action | undefined {
    if (!s.present) return s.ranFor && this.#o.cfg.subnetRemoveCommand ? 'remove' : undefined;
    if (s.problem || !this.#o.cfg.subnetAddCommand) return undefined;
    return s.added === fingerprint(s.lease) ? undefined : 'add';
  }

  async #work(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        const now = Date.now();
        let next: { id: string; s: PeerState; action: Action } | undefined;
        let wakeAt = Infinity;
        for (const [id, s] of this.#peers) {
          const action = this.#pending(s);
          if (!action) continue;
          if (s.retryAt <= now) {
            next = { id, s, action };
            break;
          }
          wakeAt = Math.min(wakeAt, s.retryAt);
        }
        if (next) await this.#step(next.id, next.s, next.action, signal);
        else await this.#sleep(wakeAt - now);
      }
    } catch (err) {
      // Stopping kills a running command: whatever it rejects with then is no failure of ours.
      if (!signal.aborted) throw err;
    }
  }

  async #step(id: string, s: PeerState, action: Action, signal: AbortSignal): Promise<void> {
    const { cfg, context, log } = this.#o;
    const lease = action === 'add' ? s.lease : (s.ranFor ?? s.lease);
    const name = action === 'add' ? 'SubnetAddCommand' : 'SubnetRemoveCommand';
    const command = action === 'add' ? cfg.subnetAddCommand : cfg.subnetRemoveCommand;
    const fp = fingerprint(lease);
    if (action === 'add') s.ranFor = lease;
    const out = await runCommand({ ...context, signal }, name, command, peerEnv(lease), `${stdinOf(lease)}\n`);
    const peer = describeLease(lease);
    if (out.ok) {
      log.info(`ran ${name} for peer ${peer}`, outputFields(command, out));
      s.failures = 0;
      s.retryAt = 0;
      if (action === 'add') {
        s.added = fp;
      } else if (s.present) {
        // Back while the remove command ran: add it again.
        delete s.added;
        delete s.ranFor;
      } else {
        this.#peers.delete(id);
      }
      return;
    }
    // A change that arrived while the command ran starts afresh (failures were reset).
    const stale = action === 'add' ? !s.present || fingerprint(s.lease) !== fp : s.present;
    if (stale) {
      log.error(`${out.why}; for peer ${peer} (it has changed since: the command runs again for the change)`, { ...outputFields(command, out), code: out.code });
      return;
    }
    s.failures += 1;
    const delay = Math.min(this.#retry.initialMs * 2 ** (s.failures - 1), this.#retry.maxMs);
    s.retryAt = Date.now() + delay;
    log.error(`${out.why}; for peer ${peer}; retrying in ${formatSeconds(delay)} (failure ${s.failures})`, { ...outputFields(command, out), code: out.code, ...(out.timedOut ? { timedOut: true } : {}) });
  }

  #kick(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.#kick(), Math.max(0, ms)) : undefined;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Why upstream would run no command for this lease, as a clause completing "peer <lease> ...". */
function problemOf(lease: Lease): string | undefined {
  if (lease.attrs.backendType !== 'extension') return `uses backend "${lease.attrs.backendType}", not extension: its commands are not run (all nodes must use one backend type)`;
  const data = lease.attrs.backendData;
  if (data !== undefined && typeof data !== 'string') return `has BackendData that is not a JSON string (${JSON.stringify(data).slice(0, 100)}): SubnetAddCommand is not run for it (an extension node's BackendData is its PreStartupCommand's output)`;
  return undefined;
}

function stdinOf(lease: Lease): string {
  const data = lease.attrs.backendData;
  return typeof data === 'string' ? data : '';
}

function fingerprint(lease: Lease): string {
  const { publicIP, publicIPv6, backendData } = lease.attrs;
  return JSON.stringify([lease.subnet?.toString(), lease.ipv6Subnet?.toString(), publicIP?.toString(), publicIPv6?.toString(), backendData ?? null]);
}
