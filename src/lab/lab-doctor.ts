/**
 * @module lab/lab-doctor
 * `lab doctor`: `flannel-ts doctor --json` run on every (or one) lab node, as an operator runs it
 * on a host: on the node's machine (its namespace, its /run), with the node's flanneld flags and
 * its CNI conf and bin dirs; then one merged report, every result naming its node.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { summaryLine } from '../doctor/render.ts';
import { ConfigError } from '../errors/index.ts';
import { nodeMachine, programArgv, type Cluster, type LabNode } from './cluster.ts';
import { nodeCniDirs, prepareNodeCni } from './lab-pods.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const StatusSchema = z.enum(['ok', 'warn', 'fail', 'skip']);
const SummarySchema = z.object({ ok: z.number(), warn: z.number(), fail: z.number(), skip: z.number() });
const DoctorReportSchema = z.object({
  node: z.string(),
  results: z.array(z.object({ id: z.string(), status: StatusSchema, saw: z.string(), fix: z.string().optional() })),
  summary: SummarySchema,
});

export type DoctorSummary = z.infer<typeof SummarySchema>;

export interface LabDoctorResult {
  readonly node: string;
  readonly id: string;
  readonly status: z.infer<typeof StatusSchema>;
  readonly saw: string;
  readonly fix?: string;
}

export interface LabNodeReport {
  /** The lab's name of the node (node1, ...); doctor's own `node` is the machine's hostname. */
  readonly node: string;
  readonly hostname: string;
  readonly results: readonly LabDoctorResult[];
  readonly summary: DoctorSummary;
}

export interface LabDoctorReport {
  readonly nodes: readonly LabNodeReport[];
  readonly summary: DoctorSummary;
}

export interface LabDoctorOptions {
  readonly connectivity?: boolean;
  readonly timeoutMs?: number;
}

/** The command that runs doctor on `node`, as the node's operator would run it. */
export function doctorCommand(cluster: Cluster, node: LabNode, o: LabDoctorOptions = {}): string[] {
  const [cmd = process.execPath, ...args] = programArgv('flannel-ts');
  const dirs = nodeCniDirs(node);
  return nodeMachine(node).argv(cmd, [...args, 'doctor', '--json', ...(o.connectivity ? ['--connectivity'] : []), ...cluster.flanneldArgs(), '--cni-conf-dir', dirs.confDir, '--cni-bin-dir', dirs.binDir]);
}

function runCommand(argv: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd = 'ip', ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Doctor's report of one node. Doctor's exit 0/1 carry a report; anything else is an error saying what it printed. */
export async function doctorNode(cluster: Cluster, node: LabNode, o: LabDoctorOptions = {}): Promise<LabNodeReport> {
  // A lab built before nodes had CNI dirs of their own gets them (what lab up gives a node now).
  if (!existsSync(nodeCniDirs(node).outside.confDir)) prepareNodeCni(node);
  const r = await runCommand(doctorCommand(cluster, node, o), o.timeoutMs ?? 90_000);
  const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n');
  if (r.code !== 0 && r.code !== 1) {
    throw new ConfigError('E_LAB_DOCTOR', `doctor on ${node.name} did not give a report (exit ${r.code ?? 'by signal: timed out?'}): ${tail}`, { hint: 'is the CLI built (npm run build)? run "flannel-ts doctor --help"' });
  }
  let parsed: z.infer<typeof DoctorReportSchema>;
  try {
    parsed = DoctorReportSchema.parse(JSON.parse(r.stdout));
  } catch (err) {
    throw new ConfigError('E_LAB_DOCTOR', `doctor on ${node.name} printed no JSON report (exit ${r.code}): ${tail}`, { hint: 'run it by hand with "lab exec <node> -- ..." to see', cause: err });
  }
  return { node: node.name, hostname: parsed.node, results: parsed.results.map((x) => ({ node: node.name, ...x })), summary: parsed.summary };
}

export function addSummaries(summaries: readonly DoctorSummary[]): DoctorSummary {
  return summaries.reduce((a, s) => ({ ok: a.ok + s.ok, warn: a.warn + s.warn, fail: a.fail + s.fail, skip: a.skip + s.skip }), { ok: 0, warn: 0, fail: 0, skip: 0 });
}

/** How many nodes doctor runs on at once (each is a node process reading netlink, iptables and etcd). */
export const DOCTOR_PARALLEL = 4;

/** Doctor on `nodes`, a few at a time, merged in node order. */
export async function labDoctor(cluster: Cluster, nodes: readonly LabNode[], o: LabDoctorOptions = {}): Promise<LabDoctorReport> {
  const reports: LabNodeReport[] = [];
  for (let i = 0; i < nodes.length; i += DOCTOR_PARALLEL) reports.push(...(await Promise.all(nodes.slice(i, i + DOCTOR_PARALLEL).map((n) => doctorNode(cluster, n, o)))));
  return { nodes: reports, summary: addSummaries(reports.map((r) => r.summary)) };
}

export { summaryLine };

/** The merged table: NODE STATUS ID SAW, a `fix:` line under every non-ok result, the summary last. */
export function renderLabDoctor(report: LabDoctorReport): string {
  const results = report.nodes.flatMap((n) => n.results);
  const w = (f: (r: LabDoctorResult) => string, title: string): number => Math.max(title.length, ...results.map((r) => f(r).length)) + 2;
  const wn = w((r) => r.node, 'NODE');
  const ws = w((r) => r.status, 'STATUS');
  const wi = w((r) => r.id, 'ID');
  const lines = [`${'NODE'.padEnd(wn)}${'STATUS'.padEnd(ws)}${'ID'.padEnd(wi)}SAW`];
  for (const r of results) {
    lines.push(`${r.node.padEnd(wn)}${r.status.padEnd(ws)}${r.id.padEnd(wi)}${r.saw}`);
    if (r.status !== 'ok' && r.fix) lines.push(`${''.padEnd(wn + ws)}  fix: ${r.fix.split('\n').join(`\n${''.padEnd(wn + ws)}       `)}`);
  }
  lines.push(summaryLine(report.summary));
  return lines.join('\n');
}

/** Every result of the report that failed, as "node: id". */
export function failures(report: LabDoctorReport): string[] {
  return report.nodes.flatMap((n) => n.results.filter((r) => r.status === 'fail').map((r) => `${r.node}: ${r.id}`));
}
