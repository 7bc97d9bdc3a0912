/**
 * @module lab/verify
 * The lab's connectivity check as `lab up` and `lab check` run it, and its record (matrix.json)
 * that `lab status` and `lab ui` read.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { nodeSubnet, type Cluster } from './cluster.ts';
import { planPodPairs, probeNodeMesh, probePods, type ProbeReport } from './connectivity.ts';
import { secondsSince } from './fanout.ts';
import type { LabPod } from './lab-pods.ts';

const MATRIX_FILE = 'matrix.json';

export function probeWhat(pods: readonly LabPod[]): string {
  const plan = planPodPairs(pods);
  const podPart = pods.length < 2 ? '' : plan.mode === 'all' ? `${plan.pairs.length} pod pairs` : `${plan.pairs.length} of ${plan.total} pod pairs (sampled)`;
  const withPods = new Set(pods.map((p) => p.node)).size;
  const nodePart = withPods > 1 ? `${withPods * (withPods - 1)} node pairs` : '';
  return [podPart, nodePart].filter(Boolean).join(' and ') || 'nothing (one node, fewer than two pods)';
}

/** Probes the node mesh and the pod pairs, writes matrix.json, and returns what it found. */
export async function verifyLab(cluster: Cluster, pods: readonly LabPod[], progress?: (line: string) => void): Promise<ProbeReport> {
  // cni0 exists once the bridge plugin made it for a pod: a node without pods has nothing to answer there.
  const since = Date.now();
  const withPods = cluster.nodes.filter((n) => pods.some((p) => p.node === n.name));
  const nodes = withPods.length > 1 ? await probeNodeMesh(withPods.map((n) => ({ name: n.name, ns: n.ns, target: nodeSubnet(n)?.split('/')[0] }))) : [];
  const plan = planPodPairs(pods);
  let last = 0;
  const cells = await probePods(plan, (done, of) => {
    const step = Math.max(1, Math.round(of / 10));
    if (progress && of >= 20 && (done === of || done - last >= step)) {
      last = done;
      progress(`[lab]   pods probed from: ${done}/${of}${done === of ? ` (${secondsSince(since)}, the node mesh included)` : ''}`);
    }
  });
  const report: ProbeReport = { at: new Date().toISOString(), mode: plan.mode, total: plan.total, cells, nodes };
  writeFileSync(join(cluster.spec.stateDir, MATRIX_FILE), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

const ReportSchema = z.object({
  at: z.string(),
  mode: z.enum(['all', 'sampled']).default('all'),
  total: z.number().optional(),
  cells: z.array(z.object({ from: z.string(), to: z.string(), icmp: z.boolean(), tcp: z.boolean(), secondProbe: z.boolean().optional() })),
  nodes: z.array(z.object({ from: z.string(), to: z.string(), icmp: z.boolean(), secondProbe: z.boolean().optional() })).default([]),
});

/** The last check's record, or undefined when none was made (or the file is not one). */
export function lastReport(stateDir: string): ProbeReport | undefined {
  const file = join(stateDir, MATRIX_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const r = ReportSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    return { ...r, total: r.total ?? r.cells.length };
  } catch {
    return undefined;
  }
}
