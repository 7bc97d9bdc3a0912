/**
 * `npm run bench`: control-plane convergence, single-lease latency, CNI latency, throughput and
 * flanneld's memory/CPU, each against a floor measured in the same run, written to
 * bench/results/latest.{json,md}. Needs root; everything happens in network namespaces named
 * after a per-run prefix and is removed on the way out, also after a failure or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deleteNamespaces, uniquePrefix } from '../../src/lab/netns.ts';
import { BUILD_CACHE, prepareArtifacts, ROOT, type BuildMode } from './build.ts';
import { runControlPlane, type BackendControlPlane } from './convergence.ts';
import { BACKENDS, isControlPlaneBackend, SECTIONS, type Backend, type BenchContext, type BenchOptions, type Section } from './context.ts';
import { dataPlaneBackend } from './dataplane-backends.ts';
import type { CniResult } from './cni.ts';
import { summarizeProfile, type ProfileSummary } from './profile.ts';
import { evaluateTargets, renderMarkdown, type BenchReport } from './report.ts';
import { runDataPlane, type ThroughputRow } from './throughput.ts';
import { labScaleTargets, renderLabScale, runLabScale } from './lab-scale.ts';

export const DEFAULT_OUT = join(ROOT, 'bench/results');

export const FULL: Omit<BenchOptions, 'outDir' | 'cpuProfDir'> = {
  smoke: false,
  backends: BACKENDS,
  sections: new Set(SECTIONS),
  sizes: [100, 1000, 5000],
  labSizes: [20, 50, 100],
  iterations: 3,
  latencyAt: 1000,
  latencyEvents: 200,
  cniPods: 200,
  iperfSeconds: 3,
  iperfRuns: 3,
  settleMs: 5000,
  cpuWindowMs: 25_000,
  build: 'build',
  nodeFlags: [],
};

export const SMOKE: Omit<BenchOptions, 'outDir' | 'cpuProfDir'> = {
  ...FULL,
  smoke: true,
  sizes: [50],
  labSizes: [2],
  iterations: 1,
  latencyAt: 50,
  latencyEvents: 10,
  cniPods: 5,
  iperfSeconds: 1,
  iperfRuns: 1,
  settleMs: 500,
  cpuWindowMs: 1000,
};

const USAGE = `usage: npm run bench -- [options]
  --smoke                 quick variant (N = 50, one iteration, iperf3 -t 1, 5 pods); what the test suite runs
  --sizes=100,1000,5000   peer counts for convergence (memory is sampled at the largest)
  --lab-sizes=20,50,100   node counts of the lab rows (lab up --nodes N --pods 1 with the CLI in dist/)
  --iterations=3          convergence runs per size (ours and floor alternate; medians reported)
  --sections=LIST         any of ${SECTIONS.join(',')} (default: all)
  --backends=LIST         any of ${BACKENDS.join(',')} (default: all); convergence, latency and
                          resources run for vxlan and host-gw only, throughput for each
  --latency-at=1000 --latency-events=200   single-lease latency (vxlan)
  --cni-pods=200          pods for CNI ADD/DEL latency
  --iperf-seconds=3 --iperf-runs=3
  --build=build|dist|source   flanneld + CNI plugin: compiled from the working tree into
                          node_modules/.cache (default), dist/ as built, or flanneld through tsx
  --memory-window=25      seconds flanneld's RSS and CPU are sampled for (idle and at the largest N)
  --node-flags="FLAGS"    extra node flags for flanneld, e.g. "--heapsnapshot-signal=SIGUSR2" (recorded in the report)
  --cpu-prof[=DIR]        run flanneld under node --cpu-prof; profiles summarized in the report
  --out=DIR               where latest.json and latest.md go (default bench/results; smoke: a temp dir)
`;

function list<T extends string>(text: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${what}: "${i}" is not one of ${allowed.join(', ')}`);
  return items as T[];
}

function int(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${what}: "${text}" is not a whole number`);
  return n;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const { values: v } = parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      smoke: { type: 'boolean' },
      sizes: { type: 'string' },
      'lab-sizes': { type: 'string' },
      iterations: { type: 'string' },
      sections: { type: 'string' },
      backends: { type: 'string' },
      'latency-at': { type: 'string' },
      'latency-events': { type: 'string' },
      'cni-pods': { type: 'string' },
      'iperf-seconds': { type: 'string' },
      'iperf-runs': { type: 'string' },
      build: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'node-flags': { type: 'string' },
      'memory-window': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (v.help) return 'help';
  const base = v.smoke ? SMOKE : FULL;
  const sizes = v.sizes?.split(',').map((s) => int(s.trim(), 'sizes') as number);
  if (sizes && (sizes.length === 0 || sizes.some((n) => n < 1))) throw new Error('--sizes: give positive peer counts, e.g. 100,1000,5000');
  const labSizes = v['lab-sizes']?.split(',').map((s) => int(s.trim(), 'lab-sizes') as number);
  if (labSizes && (labSizes.length === 0 || labSizes.some((n) => n < 1 || n > 100))) throw new Error('--lab-sizes: give node counts from 1 to 100, e.g. 20,50,100');
  const build = list(v.build, ['build', 'dist', 'source'] as const, 'build')?.[0];
  return {
    ...base,
    ...(sizes ? { sizes } : {}),
    ...(labSizes ? { labSizes } : {}),
    iterations: Math.max(1, int(v.iterations, 'iterations') ?? base.iterations),
    sections: new Set(list<Section>(v.sections, SECTIONS, 'sections') ?? base.sections),
    backends: list<Backend>(v.backends, BACKENDS, 'backends') ?? base.backends,
    latencyAt: int(v['latency-at'], 'latency-at') ?? base.latencyAt,
    latencyEvents: int(v['latency-events'], 'latency-events') ?? base.latencyEvents,
    cniPods: Math.max(1, int(v['cni-pods'], 'cni-pods') ?? base.cniPods),
    iperfSeconds: Math.max(1, int(v['iperf-seconds'], 'iperf-seconds') ?? base.iperfSeconds),
    iperfRuns: Math.max(1, int(v['iperf-runs'], 'iperf-runs') ?? base.iperfRuns),
    cpuWindowMs: Math.max(1, int(v['memory-window'], 'memory-window') ?? base.cpuWindowMs / 1000) * 1000,
    build: (build as BuildMode | undefined) ?? base.build,
    nodeFlags: v['node-flags']?.split(/\s+/).filter((f) => f !== '') ?? base.nodeFlags,
    cpuProfDir: v['cpu-prof'] === undefined ? undefined : v['cpu-prof'] || join(tmpdir(), 'flannel-ts-bench-profiles'),
    outDir: v.out ?? (v.smoke ? join(tmpdir(), 'flannel-ts-bench-smoke') : DEFAULT_OUT),
  };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export interface RunResult {
  report: BenchReport;
  jsonPath: string;
  mdPath: string;
}

/** Runs the benchmark and writes the report; cleans up every namespace it made, whatever happens. */
export async function runBench(options: BenchOptions, progress: (msg: string) => void = (m) => process.stderr.write(`[bench] ${m}\n`)): Promise<RunResult> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: it builds network namespaces (run it as root, or through sudo)');
  const started = new Date();
  const loadAvgStart = loadavg();
  const prefix = uniquePrefix('flb');
  const stateRoot = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const cleanups: Array<() => void> = [];
  const cleanup = (): void => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch {
        /* keep cleaning */
      }
    }
    deleteNamespaces(prefix);
    rmSync(stateRoot, { recursive: true, force: true });
    rmSync(join(BUILD_CACHE, prefix), { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    progress(`${sig}: removing namespaces ${prefix}-*`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`run ${prefix}${options.smoke ? ' (smoke)' : ''}: preparing flanneld and the CNI plugin (--build=${options.build})`);
    const artifacts = prepareArtifacts(options.build, join(BUILD_CACHE, prefix), progress);
    if (options.cpuProfDir) {
      mkdirSync(options.cpuProfDir, { recursive: true });
      for (const f of readdirSync(options.cpuProfDir)) if (f.startsWith('flanneld-') && f.endsWith('.cpuprofile')) rmSync(join(options.cpuProfDir, f));
    }
    const ctx: BenchContext = { options, prefix, stateRoot, artifacts, cpuProfDir: options.cpuProfDir, progress, registerCleanup: (fn) => cleanups.push(fn) };
    const s = options.sections;
    const controlPlane: BackendControlPlane[] = [];
    if (s.has('convergence') || s.has('latency') || s.has('resources')) {
      for (const b of options.backends.filter(isControlPlaneBackend)) controlPlane.push(await runControlPlane(ctx, b));
    }
    const throughput: ThroughputRow[] = [];
    let cni: CniResult | undefined;
    // CNI latency is measured on the first backend's lab that comes up (a backend this machine
    // cannot run builds none).
    for (const b of options.backends) {
      const withCni = s.has('cni') && cni === undefined;
      if (!s.has('throughput') && !withCni) continue;
      const r = await runDataPlane(ctx, dataPlaneBackend(b), withCni);
      if (r.throughput) throughput.push(r.throughput);
      if (r.cni) cni = r.cni;
    }
    const labScale = s.has('lab') ? await runLabScale(ctx, options.labSizes) : [];
    const profiles: ProfileSummary[] = [];
    if (options.cpuProfDir) {
      const files = readdirSync(options.cpuProfDir).filter((f) => f.startsWith('flanneld-') && f.endsWith('.cpuprofile')).sort();
      // The largest N's first run per backend is where a hot spot shows.
      const largest = Math.max(...options.sizes);
      for (const b of options.backends) {
        const f = files.find((x) => x.startsWith(`flanneld-${b}-n${largest}-`));
        if (f) profiles.push(summarizeProfile(join(options.cpuProfDir, f), 15));
      }
    }
    const finished = new Date();
    const { sections, outDir: _out, ...rest } = options;
    const base = {
      controlPlane,
      ...(cni ? { cni } : {}),
      throughput,
      labScale,
    };
    const report: BenchReport = {
      schema: 1,
      runId: prefix,
      mode: options.smoke ? 'smoke' : 'full',
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version, loadAvgStart: loadAvgStart.map((x) => Math.round(x * 100) / 100), loadAvgEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      git: { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirtyFiles: git(['status', '--porcelain']).split('\n').filter(Boolean).length },
      build: artifacts.describe,
      options: { ...rest, sections: [...sections] },
      ...base,
      profiles,
      targets: [...evaluateTargets(base), ...(labScale.length ? labScaleTargets(labScale) : [])],
      notes: [
        ...(options.smoke ? ['Smoke run: sizes and durations are far too small for the targets to mean anything; it only proves the harness works.'] : []),
        ...(options.nodeFlags.length ? [`flanneld ran with extra node flags: ${options.nodeFlags.join(' ')}.`] : []),
        ...(options.cpuProfDir ? [`flanneld ran under node --cpu-prof (profiles in ${options.cpuProfDir}); the profiler slows it down.`] : []),
      ],
    };
    mkdirSync(options.outDir, { recursive: true });
    const jsonPath = join(options.outDir, 'latest.json');
    const mdPath = join(options.outDir, 'latest.md');
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    const labRows = renderLabScale(labScale);
    writeFileSync(mdPath, `${renderMarkdown(report)}\n${labRows.length ? `\n## Lab at scale (lab up --nodes N --pods 1)\n\n${labRows.join('\n')}\n` : ''}`);
    progress(`wrote ${jsonPath} and ${mdPath}`);
    return { report, jsonPath, mdPath };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { mdPath } = await runBench(options);
    if (existsSync(mdPath)) process.stdout.write(`\n${readFileSync(mdPath, 'utf8')}`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
