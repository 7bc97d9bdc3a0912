/**
 * @module lab/connectivity
 * The pod-to-pod matrix: ICMP and TCP from every pod to every other pod.
 */
import type { LabPod } from './lab-pods.ts';
import { canPing, canTcp } from './probe.ts';

export interface Reachability {
  readonly from: string;
  readonly to: string;
  readonly icmp: boolean;
  readonly tcp: boolean;
}

export function probeMatrix(pods: readonly LabPod[]): Reachability[] {
  const out: Reachability[] = [];
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      out.push({ from: a.name, to: b.name, icmp: canPing(a.ns, b.ip), tcp: canTcp(a.ns, b.ip) });
    }
  }
  return out;
}

export function renderMatrix(pods: readonly LabPod[], cells: readonly Reachability[]): string {
  const w = Math.max(10, ...pods.map((p) => p.name.length)) + 2;
  const head = `${'from \\ to'.padEnd(w)}${pods.map((p) => p.name.padEnd(w)).join('')}`;
  const rows = pods.map((a) => {
    const row = pods.map((b) => {
      if (a === b) return '-'.padEnd(w);
      const c = cells.find((x) => x.from === a.name && x.to === b.name);
      const mark = (ok: boolean | undefined): string => (ok ? 'ok' : 'FAIL');
      return `${mark(c?.icmp)}/${mark(c?.tcp)}`.padEnd(w);
    });
    return `${a.name.padEnd(w)}${row.join('')}`;
  });
  const ok = cells.filter((c) => c.icmp && c.tcp).length;
  return [`${head}   (ICMP/TCP)`, ...rows, '', `${ok}/${cells.length} pod pairs reachable over ICMP and TCP`].join('\n');
}

export function allReachable(cells: readonly Reachability[]): boolean {
  return cells.every((c) => c.icmp && c.tcp);
}
