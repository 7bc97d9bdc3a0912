/**
 * @module backend/reconcile/execute
 * Issues a pass's kernel changes in kernel-safe order (removals, then applies, each by rank), at
 * most IN_FLIGHT at a time: the kernel pipeline keeps about that many in flight anyway, and
 * issuing thousands at once would only hold their encoded requests and promises in memory.
 * Failures are logged once per object and reason (a persistent failure is not re-logged every
 * pass), grouped by errno.
 */
import { describeError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import { applyDesired, applyRank, describeObject, removeObject, removeRank, type PeerKernel } from '../kernel-objects.ts';
import { Sample } from './sample.ts';
import type { PassResult, Work } from './types.ts';

const IN_FLIGHT = 1024;

export class WorkExecutor {
  readonly #kernel: PeerKernel;
  readonly #log: Logger;
  readonly #linkName: (index: number) => string;
  /** Last error logged per object key. */
  readonly #lastErrors = new Map<string, string>();

  constructor(kernel: PeerKernel, log: Logger, linkName: (index: number) => string) {
    this.#kernel = kernel;
    this.#log = log;
    this.#linkName = linkName;
  }

  /** Runs every change; returns the failures by object key. */
  async execute(work: readonly Work[]): Promise<Map<string, unknown>> {
    const ordered = [
      ...work.filter((w) => w.op === 'remove').sort((a, b) => removeRank(a.o) - removeRank(b.o)),
      ...work.filter((w): w is Extract<Work, { op: 'apply' }> => w.op === 'apply').sort((a, b) => applyRank(a.o) - applyRank(b.o)),
    ];
    const kernel = this.#kernel;
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
      sample.add(() => `${w.op === 'apply' ? 'install' : 'delete'} ${describeObject(w.o, this.#linkName)}: ${reason}`);
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

export function tally(work: readonly Work[], failures: ReadonlyMap<string, unknown>): PassResult {
  let applied = 0;
  let removed = 0;
  const failed = { route: 0, neigh: 0, fdb: 0 };
  for (const w of work) {
    if (failures.has(w.key)) failed[w.o.kind]++;
    else if (w.op === 'apply') applied++;
    else removed++;
  }
  return { applied, removed, failed: failures.size, failures: failed };
}
