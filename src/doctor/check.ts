/**
 * @module doctor/check
 * One line of doctor's report. Every check has a stable id (documented in the README), says what
 * it saw in values, and for anything not ok the fix in one or two lines.
 */
import type { NodeFacts } from './facts.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, "<area>.<what>": "sysctl.ip-forward", "dataplane.peers". */
  readonly id: string;
  readonly status: CheckStatus;
  /** What it saw, with the values: "net.ipv4.ip_forward = 0". */
  readonly saw: string;
  /** For warn and fail: the command to run or the key to change, one or two lines. */
  readonly fix?: string;
}

export interface CheckSpec {
  readonly id: string;
  /** One line for the README and `doctor --list`: what it checks. */
  readonly summary: string;
  /** One or more results (a check may report per family or per device under the same id). */
  run(facts: NodeFacts): CheckResult | readonly CheckResult[];
}

export interface Report {
  readonly node: string;
  readonly results: readonly CheckResult[];
}

/** Exit code: 1 when something failed, else 0. */
export function exitCodeOf(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

export const ok = (id: string, saw: string): CheckResult => ({ id, status: 'ok', saw });
export const warn = (id: string, saw: string, fix: string): CheckResult => ({ id, status: 'warn', saw, fix });
export const fail = (id: string, saw: string, fix: string): CheckResult => ({ id, status: 'fail', saw, fix });
export const skip = (id: string, saw: string): CheckResult => ({ id, status: 'skip', saw });
