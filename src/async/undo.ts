/**
 * @module async/undo
 * What a start-up wrote, so a start-up that fails after writing can take it back: steps are
 * recorded as they succeed and undone newest first. Only what this start-up created is
 * recorded; what was already there (a reused lease, an adopted device) stays.
 */
import { describeError } from '../errors/index.ts';

/** The side that records: a writer adds how to take back what it just wrote. */
export interface UndoRegistry {
  add(what: string, undo: (signal: AbortSignal) => Promise<void>): void;
}

export interface UndoReport {
  readonly undone: readonly string[];
  readonly failed: ReadonlyArray<{ what: string; error: string }>;
}

export class UndoLog implements UndoRegistry {
  #steps: Array<{ what: string; undo: (signal: AbortSignal) => Promise<void> }> = [];

  add(what: string, undo: (signal: AbortSignal) => Promise<void>): void {
    this.#steps.push({ what, undo });
  }

  get size(): number {
    return this.#steps.length;
  }

  /** The start-up succeeded: nothing is to be undone any more. */
  commit(): void {
    this.#steps = [];
  }

  /** Undoes every recorded step, newest first; a failing step does not stop the others. */
  async unwind(signal: AbortSignal): Promise<UndoReport> {
    const steps = this.#steps.reverse();
    this.#steps = [];
    const undone: string[] = [];
    const failed: Array<{ what: string; error: string }> = [];
    for (const step of steps) {
      try {
        await step.undo(signal);
        undone.push(step.what);
      } catch (err) {
        failed.push({ what: step.what, error: describeError(err) });
      }
    }
    return { undone, failed };
  }
}
