/**
 * The lab at scale: `flannel-ts lab up --nodes N --pods 1` run as its user runs it, for N = 20,
 * 50 and 100: the wall time to a built and verified lab, whether the check passed (node mesh and
 * pod pairs), the memory the lab holds once up (the sum of PSS over every process in its
 * namespaces, so node's shared binary counts once; and each flanneld's RSS), and `lab down`'s time.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labNamespaces } from '../../src/lab/cluster.ts';
import { pidsIn } from '../../src/lab/netns.ts';
import { median } from './stats.ts';
import type { BenchContext } from './context.ts';
import { ROOT } from './build.ts';

export interface LabScaleRow {
  readonly nodes: number;
  readonly upS: number;
  /** lab up's exit status: 0 when every probed pair answered. */
  readonly exitCode: number | null;
  readonly podPairs: string;
  readonly nodePairs: string;
  /** Σ PSS of every process of the lab (flanneld, etcd, pods' echo servers), MiB. */
  readonly totalPssMiB: number;
  readonly flanneldRssMiB: { readonly median: number; readonly max: number };
  /** How much MemAvailable fell while the lab was up (kernel objects and page cache included), MiB. */
  readonly memAvailableDropMiB: number;
  readonly downS: number;
}

const KIB = 1024;

function statusField(pid: number, file: 'status' | 'smaps_rollup', field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function memAvailableKiB(): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function run(argv: readonly string[], progress: (line: string) => void): Promise<{ code: number | null; stdout: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const [cmd = process.execPath, ...args] = argv;
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (/ready on|pods created|probed from|^\[lab\] [a-z]/.test(line)) progress(`  ${line}`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, seconds: (performance.now() - started) / 1000 }));
  });
}

export async function runLabScale(ctx: BenchContext, sizes: readonly number[]): Promise<LabScaleRow[]> {
  const rows: LabScaleRow[] = [];
  // The lab as its user runs it: the CLI and flanneld `npm run build` put in dist/ (not the bench's private build).
  const entry = join(ROOT, 'dist/cli/flannel-ts.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first (the lab-scale section runs the built CLI)`);
  const cli = [process.execPath, entry];
  for (const n of sizes) {
    const name = `${ctx.prefix}s${n}`;
    const stateDir = join(ctx.stateRoot, `lab-${n}`);
    const lab = [...cli, 'lab', '--name', name, '--state-dir', stateDir];
    ctx.registerCleanup(() => void spawn(lab[0] ?? process.execPath, [...lab.slice(1), 'down'], { stdio: 'ignore' }));
    const before = memAvailableKiB();
    ctx.progress(`lab scale: lab up --nodes ${n} --pods 1`);
    const up = await run([...lab, 'up', '--nodes', String(n), '--pods', '1'], ctx.progress);
    const pids = pidsIn(labNamespaces(name));
    const pss = pids.map((p) => statusField(p, 'smaps_rollup', 'Pss') ?? 0).reduce((a, b) => a + b, 0);
    const flanneld = pids.filter((p) => /flanneld/.test(comm(p)) && !/^(ip|unshare|sh) /.test(comm(p))).map((p) => (statusField(p, 'status', 'VmRSS') ?? 0) / KIB);
    const drop = (before - memAvailableKiB()) / KIB;
    const line = (re: RegExp): string => re.exec(up.stdout)?.[0] ?? 'not reported';
    ctx.progress(`lab scale: ${n} nodes up in ${up.seconds.toFixed(1)} s (exit ${up.code}); lab down`);
    const down = await run([...lab, 'down'], ctx.progress);
    rows.push({
      nodes: n,
      upS: up.seconds,
      exitCode: up.code,
      podPairs: line(/^\d+\/\d+ pod pairs reachable.*$/m),
      nodePairs: line(/^\d+\/\d+ node pairs reachable/m),
      totalPssMiB: pss / KIB,
      flanneldRssMiB: { median: flanneld.length ? median(flanneld) : 0, max: Math.max(0, ...flanneld) },
      memAvailableDropMiB: drop,
      downS: down.seconds,
    });
  }
  return rows;
}

/** The Markdown table of the lab rows (report.ts puts it under its own heading). */
export function renderLabScale(rows: readonly LabScaleRow[]): string[] {
  if (rows.length === 0) return [];
  const f = (x: number, d = 1): string => x.toFixed(d);
  return [
    '| nodes | lab up (built and verified) | exit | pod pairs | node pairs | Σ PSS of the lab | flanneld RSS median / max | MemAvailable drop | lab down |',
    '| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.nodes} | ${f(r.upS)} s | ${r.exitCode ?? '–'} | ${r.podPairs} | ${r.nodePairs} | ${f(r.totalPssMiB, 0)} MiB | ${f(r.flanneldRssMiB.median)} / ${f(r.flanneldRssMiB.max)} MiB | ${f(r.memAvailableDropMiB, 0)} MiB | ${f(r.downS)} s |`),
  ];
}

/** The targets: 100 nodes built and verified within 120 s, every probed pair answering, within the machine's memory. */
export function labScaleTargets(rows: readonly LabScaleRow[]): Array<{ id: string; what: string; measured: string; value: number | null; limit: string; pass: boolean | null }> {
  const big = rows.find((r) => r.nodes === 100);
  // The target is about 100 nodes; a run without that row (--lab-sizes, the smoke run) has none.
  if (!big) return [];
  return [
    {
      id: 'lab-100',
      what: 'lab up --nodes 100 --pods 1: built and verified',
      measured: `${big.upS.toFixed(1)} s, exit ${big.exitCode ?? '–'}, ${big.totalPssMiB.toFixed(0)} MiB`,
      value: big.upS,
      limit: '≤ 120 s, exit 0',
      pass: big.upS <= 120 && big.exitCode === 0,
    },
  ];
}
