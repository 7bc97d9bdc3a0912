/**
 * @module lab/connectivity
 * What `lab up` and `lab check` verify:
 *  - the node mesh: every node with pods (so with a cni0) pings every other one's cni0 address, so
 *    every node pair's route or tunnel carries traffic (one fping per node);
 *  - pod pairs, over ICMP and TCP: every ordered pair while the lab has at most FULL_MATRIX_PODS
 *    pods, otherwise a sample where every pod is a source and a target of SAMPLE_PER_POD pairs at
 *    spread-out distances in pod order (so across nodes). Each source pod probes all its targets
 *    at once, several sources in parallel; the report says which of the two it did.
 */
import type { LabPod } from './lab-pods.ts';
import { mapLimit, pingAll, tcpAll } from './fanout.ts';

export interface Reachability {
  readonly from: string;
  readonly to: string;
  readonly icmp: boolean;
  readonly tcp: boolean;
}

export interface NodeReachability {
  readonly from: string;
  readonly to: string;
  readonly icmp: boolean;
}

/** The most pods for which every ordered pair is probed (40 pods: 1560 pairs). */
export const FULL_MATRIX_PODS = 40;
/** Above that, how many targets each pod probes (and is probed by). */
export const SAMPLE_PER_POD = 6;
/** How many namespaces probe at once. */
const PARALLEL_SOURCES = 8;

export interface PodPlan {
  readonly mode: 'all' | 'sampled';
  readonly pairs: ReadonlyArray<readonly [LabPod, LabPod]>;
  /** Every ordered pair there is (n × (n − 1)). */
  readonly total: number;
}

/** Distances 1, 2, 4, ... in pod order (then 3, 5, ... if the lab is small), at most `k` of them, all < n. */
function offsets(n: number, k: number): number[] {
  const out: number[] = [];
  for (let d = 1; d < n && out.length < k; d *= 2) out.push(d);
  for (let d = 3; d < n && out.length < k; d += 2) if (!out.includes(d)) out.push(d);
  return out;
}

export function planPodPairs(pods: readonly LabPod[], full = FULL_MATRIX_PODS, perPod = SAMPLE_PER_POD): PodPlan {
  const n = pods.length;
  const total = n * (n - 1);
  if (n <= full) return { mode: 'all', total, pairs: pods.flatMap((a) => pods.filter((b) => b !== a).map((b) => [a, b] as const)) };
  const ds = offsets(n, perPod);
  return { mode: 'sampled', total, pairs: pods.flatMap((a, i) => ds.map((d) => [a, pods[(i + d) % n] as LabPod] as const)) };
}

/** Probes the plan's pairs: per source pod one fping and one TCP prober for all its targets. */
export async function probePods(plan: PodPlan, onSourceDone?: (done: number, of: number) => void): Promise<Reachability[]> {
  const bySource = new Map<LabPod, LabPod[]>();
  for (const [a, b] of plan.pairs) {
    const targets = bySource.get(a);
    if (targets) targets.push(b);
    else bySource.set(a, [b]);
  }
  const sources = [...bySource];
  let done = 0;
  const results = await mapLimit(sources, PARALLEL_SOURCES, async ([a, targets]) => {
    const ips = targets.map((t) => t.ip);
    const [icmp, tcp] = await Promise.all([pingAll(a.ns, ips), tcpAll(a.ns, ips)]);
    onSourceDone?.(++done, sources.length);
    return targets.map((b) => ({ from: a.name, to: b.name, icmp: icmp.get(b.ip) === true, tcp: tcp.get(b.ip) === true }));
  });
  return results.flat();
}

export interface MeshNode {
  readonly name: string;
  readonly ns: string;
  /** Its cni0 address (the first address of its subnet), or undefined when it has no subnet yet. */
  readonly target?: string;
}

/** Every node pings every other node's cni0 address (one fping per node). */
export async function probeNodeMesh(nodes: readonly MeshNode[]): Promise<NodeReachability[]> {
  const results = await mapLimit(nodes, PARALLEL_SOURCES, async (a) => {
    const peers = nodes.filter((b) => b !== a);
    const targets = peers.flatMap((b) => (b.target ? [b.target] : []));
    const alive = await pingAll(a.ns, targets);
    return peers.map((b) => ({ from: a.name, to: b.name, icmp: b.target !== undefined && alive.get(b.target) === true }));
  });
  return results.flat();
}

/** What one `lab up` / `lab check` found; matrix.json holds it. */
export interface ProbeReport {
  readonly at: string;
  readonly mode: PodPlan['mode'];
  /** Ordered pod pairs there are; `cells` holds the probed ones. */
  readonly total: number;
  readonly cells: readonly Reachability[];
  readonly nodes: readonly NodeReachability[];
}

export function allReachable(r: Pick<ProbeReport, 'cells' | 'nodes'>): boolean {
  return r.cells.every((c) => c.icmp && c.tcp) && r.nodes.every((c) => c.icmp);
}

/** The matrix is printed up to this many pods; above it, the summary and the failing pairs. */
export const MATRIX_PRINT_PODS = 20;

export function renderMatrix(pods: readonly LabPod[], cells: readonly Reachability[]): string {
  const w = Math.max(10, ...pods.map((p) => p.name.length)) + 2;
  const head = `${'from \\ to'.padEnd(w)}${pods.map((p) => p.name.padEnd(w)).join('')}`;
  const rows = pods.map((a) => {
    const row = pods.map((b) => {
      if (a === b) return '-'.padEnd(w);
      const c = cells.find((x) => x.from === a.name && x.to === b.name);
      if (!c) return '·'.padEnd(w);
      const mark = (ok: boolean): string => (ok ? 'ok' : 'FAIL');
      return `${mark(c.icmp)}/${mark(c.tcp)}`.padEnd(w);
    });
    return `${a.name.padEnd(w)}${row.join('')}`;
  });
  return [`${head}   (ICMP/TCP)`, ...rows].join('\n');
}

function podLine(r: Pick<ProbeReport, 'mode' | 'total' | 'cells'>): string {
  const ok = r.cells.filter((c) => c.icmp && c.tcp).length;
  return r.mode === 'all'
    ? `${ok}/${r.cells.length} pod pairs reachable over ICMP and TCP`
    : `${ok}/${r.cells.length} pod pairs reachable over ICMP and TCP (sampled: ${r.cells.length} of the ${r.total} pairs, each pod to ${SAMPLE_PER_POD} others and from ${SAMPLE_PER_POD} others, spread over the nodes; probed in parallel)`;
}

/** The matrix (or, for big labs, the failing pairs), the pod summary line and the node mesh line. */
export function renderProbeReport(pods: readonly LabPod[], r: ProbeReport): string {
  const lines: string[] = [];
  if (pods.length < 2) lines.push('(fewer than two pods: no matrix)');
  else if (pods.length <= MATRIX_PRINT_PODS) lines.push(renderMatrix(pods, r.cells), '');
  else {
    const failed = r.cells.filter((c) => !(c.icmp && c.tcp));
    if (failed.length) lines.push(`failing pod pairs (${failed.length}):`, ...failed.slice(0, 30).map((c) => `  ${c.from} -> ${c.to}: ICMP ${c.icmp ? 'ok' : 'FAIL'}, TCP ${c.tcp ? 'ok' : 'FAIL'}`), ...(failed.length > 30 ? [`  ... and ${failed.length - 30} more`] : []), '');
  }
  if (pods.length >= 2) lines.push(podLine(r));
  if (r.nodes.length) {
    const ok = r.nodes.filter((c) => c.icmp).length;
    const failed = r.nodes.filter((c) => !c.icmp);
    lines.push(`${ok}/${r.nodes.length} node pairs reachable: every node pinged every other node's cni0 address over the fabric`);
    if (failed.length) lines.push(...failed.slice(0, 20).map((c) => `  ${c.from} -> ${c.to}: no answer`), ...(failed.length > 20 ? [`  ... and ${failed.length - 20} more`] : []));
  }
  return lines.join('\n');
}
