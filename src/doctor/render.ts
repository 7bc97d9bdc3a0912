/**
 * @module doctor/render
 * doctor's report for people (a table, then the summary line) and for machines (one JSON object).
 *
 *   ok    flanneld.process   pid 412: flanneld --iface=eth0 ...
 *   fail  sysctl.ip-forward  net.ipv4.ip_forward = 0
 *         fix: sysctl -w net.ipv4.ip_forward=1
 *   doctor: 1 ok, 0 warn, 1 fail, 0 skipped
 */
import type { CheckResult, CheckStatus } from './check.ts';

export interface Summary {
  readonly ok: number;
  readonly warn: number;
  readonly fail: number;
  readonly skip: number;
}

export interface JsonReport {
  readonly node: string;
  readonly results: readonly CheckResult[];
  readonly summary: Summary;
}

export function summarize(results: readonly CheckResult[]): Summary {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return { ok: count('ok'), warn: count('warn'), fail: count('fail'), skip: count('skip') };
}

/** "doctor: 23 ok, 1 warn, 2 fail, 3 skipped" (`lab up` prints this line too). */
export function summaryLine(summary: Summary): string {
  return `doctor: ${summary.ok} ok, ${summary.warn} warn, ${summary.fail} fail, ${summary.skip} skipped`;
}

const STATUS_WIDTH = 4;

/** One row per result, `STATUS  ID  SAW`, and for anything not ok its fix on indented lines; the summary line last. */
export function formatTable(results: readonly CheckResult[]): string {
  const idWidth = Math.max(0, ...results.map((r) => r.id.length));
  const indent = ' '.repeat(STATUS_WIDTH + 2);
  const lines: string[] = [];
  for (const r of results) {
    const [first = '', ...more] = r.saw.split('\n');
    lines.push(`${r.status.padEnd(STATUS_WIDTH)}  ${r.id.padEnd(idWidth)}  ${first}`.trimEnd());
    const sawIndent = ' '.repeat(STATUS_WIDTH + 2 + idWidth + 2);
    for (const m of more) lines.push(`${sawIndent}${m}`.trimEnd());
    if (r.status !== 'ok' && r.fix) {
      const [fixFirst = '', ...fixMore] = r.fix.split('\n');
      lines.push(`${indent}fix: ${fixFirst}`);
      for (const m of fixMore) lines.push(`${indent}     ${m}`);
    }
  }
  lines.push(summaryLine(summarize(results)));
  return lines.join('\n') + '\n';
}

export function jsonReport(node: string, results: readonly CheckResult[]): JsonReport {
  return { node, results, summary: summarize(results) };
}

/** The JSON report, one object (pretty-printed), with a trailing newline. */
export function formatJson(node: string, results: readonly CheckResult[]): string {
  return JSON.stringify(jsonReport(node, results), null, 2) + '\n';
}
