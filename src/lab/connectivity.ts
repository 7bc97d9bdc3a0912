/**
 * @module lab/connectivity
 * What `lab up` and `lab check` verify:
 *  - the node mesh: every node with pods (so with a cni0) pings every other one's cni0 address, so
 *    every node pair's route or tunnel carries traffic (one fping per node);
 *  - pod pairs, over ICMP and TCP: every ordered pair while the lab has at most FULL_MATRIX_PODS
 *    pods, otherwise a sample where every pod is a source and a target of SAMPLE_PER_POD pairs at
 *    spread-out distances in pod order (so across nodes). Each source pod probes all its targets
 *    at once, several sources in parallel; the report says which of the two it did.
 * A pair that fails is probed once more right away, and the report says how many answered only
 * then: the first packets between two nodes can wait for a handshake. Two WireGuard peers that
 * start talking at the same moment each answer the other's initiation and drop their own, and
 * both retry after 5 s (REKEY_TIMEOUT); the second probe's window covers that retry.
 */
import type { LabPod } from './lab-pods.ts';
import { mapLimit, pingAll, tcpAll } from './fanout.ts';

export interface Reachability {
  readonly from: string;
  readonly to: string;
  readonly icmp: boolean;
  readonly tcp: boolean;
  /** It failed the first probe and answered the second, made right after. */
  readonly secondProbe?: boolean;
}

export interface NodeReachability {
  readonly from: string;
  readonly to: string;
  readonly icmp: boolean;
  readonly secondProbe?: boolean;
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

/** The key probeTwice names a pair by. */
const pairKey = (c: { from: string; to: string }): string => `${c.from}>${c.to}`;

/** Probes the plan's pairs: per source pod one fping and one TCP prober for all its targets; failed pairs once more. */
export async function probePods(plan: PodPlan, onSourceDone?: (done: number, of: number) => void): Promise<Reachability[]> {
  return probeTwice((only) => probePairs(only ? plan.pairs.filter(([a, b]) => only.has(pairKey({ from: a.name, to: b.name }))) : plan.pairs, only ? undefined : onSourceDone));
}

/**
 * Runs `probe` over every pair, then once more over the pairs that failed (their keys
 * "from>to"), and merges: a pair answered if either probe got its answer, and one that needed the
 * second is marked so.
 */
export async function probeTwice<C extends { from: string; to: string; icmp: boolean; tcp?: boolean; secondProbe?: boolean }>(probe: (only?: ReadonlySet<string>) => Promise<C[]>): Promise<C[]> {
  const answered = (c: C): boolean => c.icmp && c.tcp !== false;
  const first = await probe();
  const failed = new Set(first.filter((c) => !answered(c)).map(pairKey));
  if (failed.size === 0) return first;
  const second = new Map((await probe(failed)).map((c) => [pairKey(c), c]));
  return first.map((c) => {
    const again = second.get(pairKey(c));
    if (!again) return c;
    const merged: C = { ...c, icmp: c.icmp || again.icmp, ...(c.tcp === undefined ? {} : { tcp: c.tcp || again.tcp === true }) };
    return answered(merged) ? { ...merged, secondProbe: true } : merged;
  });
}

async function probePairs(pairs: PodPlan['pairs'], onSourceDone?: (done: number, of: number) => void): Promise<Reachability[]> {
  const bySource = new Map<LabPod, LabPod[]>();
  for (const [a, b] of pairs) {
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

/** Every node pings every other node's cni0 address (one fping per node); the silent ones once more. */
export async function probeNodeMesh(nodes: readonly MeshNode[]): Promise<NodeReachability[]> {
  return probeTwice((only) => pingMesh(nodes, (a, b) => !only || only.has(pairKey({ from: a.name, to: b.name }))));
}

async function pingMesh(nodes: readonly MeshNode[], include: (a: MeshNode, b: MeshNode) => boolean): Promise<NodeReachability[]> {
  const sources = nodes.filter((a) => nodes.some((b) => b !== a && include(a, b)));
  const results = await mapLimit(sources, PARALLEL_SOURCES, async (a) => {
    const peers = nodes.filter((b) => b !== a && include(a, b));
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
  const line =
    r.mode === 'all'
      ? `${ok}/${r.cells.length} pod pairs reachable over ICMP and TCP`
      : `${ok}/${r.cells.length} pod pairs reachable over ICMP and TCP (sampled: ${r.cells.length} of the ${r.total} pairs, each pod to ${SAMPLE_PER_POD} others and from ${SAMPLE_PER_POD} others, spread over the nodes; probed in parallel)`;
  return `${line}${secondProbeNote(r.cells)}`;
}

/** Says how many pairs answered only the second probe, and why that happens. */
function secondProbeNote(cells: ReadonlyArray<{ secondProbe?: boolean }>): string {
  const late = cells.filter((c) => c.secondProbe).length;
  return late ? `; ${late} of them only on a second probe right after the first (a first handshake can take seconds: WireGuard peers that start at once retry after 5 s)` : '';
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
    lines.push(`${ok}/${r.nodes.length} node pairs reachable: every node pinged every other node's cni0 address over the fabric${secondProbeNote(r.nodes)}`);
    if (failed.length) lines.push(...failed.slice(0, 20).map((c) => `  ${c.from} -> ${c.to}: no answer`), ...(failed.length > 20 ? [`  ... and ${failed.length - 20} more`] : []));
  }
  return lines.join('\n');
}
