/**
 * What a process costs per node before flanneld does anything: the memory floor of each runtime,
 * what each of flanneld's packages adds to it, whether the netlink addon loads under bun, and
 * idle flanneld itself (section lab). Not a test: run by hand, as root for the lab section:
 *   npm run build   # the lab section runs dist/cli/flanneld.js in a 2-node lab
 *   node --import tsx test/perf/runtime-floor.ts [--sections floors,packages,addons,lab] [--runs 3] [--settle 3] [--lab-nodes 2] [--lab-pods 0] [--lab-settle 20]
 *
 * Each row is a fresh process, measured after --settle seconds from /proc: VmRSS split into
 * anonymous memory and pages mapped from files (mostly the runtime's own binary), the same as PSS
 * (a page shared by k processes counts 1/k in each: node's binary is one copy for every node
 * process on the machine, so PSS_file depends on what else runs), and threads. Medians of --runs.
 *
 * Package rows: each piece is bundled with bun the way scripts/bundle-flanneld.mjs bundles
 * flanneld (etcd3 and netlink stay external, as there), loaded into node with flanneld's V8 flags
 * (src/cli/v8-tuning.ts), then two full GCs; the same pieces under bun where they load.
 * Everything this creates (a temp dir under node_modules/.cache, the lab) is removed at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { V8_FLAGS } from '../../src/cli/v8-tuning.ts';
import { uniquePrefix } from '../../src/lab/netns.ts';

const { values } = parseArgs({
  options: {
    sections: { type: 'string', default: 'floors,packages,addons,lab' },
    runs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '3' },
    'lab-settle': { type: 'string', default: '20' },
    'lab-nodes': { type: 'string', default: '2' },
    'lab-pods': { type: 'string', default: '0' },
  },
});
const SECTIONS = new Set(values.sections.split(','));
const RUNS = Number(values.runs);
const SETTLE_MS = Number(values.settle) * 1000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUN = join(ROOT, 'node_modules/.bin/bun');
const NODE = process.execPath;

interface Footprint {
  rss: number;
  anon: number;
  file: number;
  pssAnon: number;
  pssFile: number;
  threads: number;
}

const kib = (text: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);

function footprint(pid: number): Footprint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const mib = (v: number): number => v / 1024;
  return {
    rss: mib(kib(status, 'VmRSS')),
    anon: mib(kib(status, 'RssAnon')),
    file: mib(kib(status, 'RssFile')),
    pssAnon: mib(kib(rollup, 'Pss_Anon')),
    pssFile: mib(kib(rollup, 'Pss_File')),
    threads: kib(status, 'Threads'),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function medianFootprint(fs: Footprint[]): Footprint {
  const pick = (k: keyof Footprint): number => median(fs.map((f) => f[k]));
  return { rss: pick('rss'), anon: pick('anon'), file: pick('file'), pssAnon: pick('pssAnon'), pssFile: pick('pssFile'), threads: pick('threads') };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Starts `argv`, waits --settle, reads its footprint, kills it. */
async function idleFootprint(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Footprint> {
  const [cmd = NODE, ...args] = argv;
  const child = spawn(cmd, args, { stdio: 'ignore', env, cwd: ROOT });
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    if (child.pid === undefined || child.exitCode !== null) throw new Error(`${argv.join(' ')} exited early (${child.exitCode})`);
    return footprint(child.pid);
  } finally {
    await stop(child);
  }
}

const f1 = (x: number): string => x.toFixed(1);
function table(head: string[], rows: string[][]): void {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
}

const work = mkdtempSync(join(ROOT, 'node_modules/.cache/runtime-floor-'));
const cleanups: Array<() => void | Promise<void>> = [() => rmSync(work, { recursive: true, force: true })];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

/** Runs `bun build` with bundle-flanneld's settings; the output path. */
function bunBundle(name: string, source: string): string {
  const src = join(work, `${name}.src.mjs`);
  const out = join(work, `${name}.mjs`);
  writeFileSync(src, source);
  const r = spawnSync(BUN, ['build', '--target=node', '--format=esm', '--minify-syntax', '--minify-whitespace', '--external', 'etcd3', '--external', 'netlink', src, '--outfile', out], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bun build ${name}: ${r.stderr}`);
  return out;
}

async function runtimeFloors(): Promise<void> {
  const idleJs = join(work, 'idle.js');
  const idleMjs = join(work, 'idle.mjs');
  const tunedMjs = join(work, 'tuned.mjs');
  writeFileSync(idleJs, 'setInterval(() => {}, 1e6);\n');
  writeFileSync(idleMjs, 'setInterval(() => {}, 1e6);\n');
  writeFileSync(tunedMjs, `import { setFlagsFromString } from 'node:v8';\nfor (const f of ${JSON.stringify(V8_FLAGS)}) setFlagsFromString(f);\nsetInterval(() => {}, 1e6);\n`);
  const compiled = join(work, 'idle-bun');
  const c = spawnSync(BUN, ['build', '--compile', idleJs, '--outfile', compiled], { cwd: ROOT, encoding: 'utf8' });
  const rows: Array<[string, string[]]> = [
    [`node ${process.version} -e (no module file)`, [NODE, '-e', 'setInterval(() => {}, 1e6)']],
    ['node, an ES module file (the loader starts libuv\'s 4 pool threads)', [NODE, idleMjs]],
    ['node, ES module + flanneld\'s V8 flags (v8-tuning.ts)', [NODE, tunedMjs]],
    ['node --v8-pool-size=1, ES module + V8 flags', [NODE, '--v8-pool-size=1', tunedMjs]],
    ['node --lite-mode, ES module + V8 flags', [NODE, '--lite-mode', tunedMjs]],
    [`bun ${spawnSync(BUN, ['--version'], { encoding: 'utf8' }).stdout.trim()} (node_modules/.bin/bun)`, [BUN, idleJs]],
    ['bun --smol', [BUN, '--smol', idleJs]],
    ...(c.status === 0 ? [['bun build --compile binary', [compiled]] as [string, string[]]] : []),
  ];
  const results = new Map<string, Footprint[]>();
  // Rounds, not row after row: a burst of load on the machine hits every row alike.
  for (let i = 0; i < RUNS; i++) for (const [name, argv] of rows) results.set(name, [...(results.get(name) ?? []), await idleFootprint(argv)]);
  console.log(`## Idle process floor per runtime (MiB, median of ${RUNS}, after ${SETTLE_MS / 1000} s)\n`);
  table(
    ['process', 'RSS', 'anonymous', 'file-mapped', 'PSS anon', 'PSS file', 'threads'],
    rows.map(([name]) => {
      const f = medianFootprint(results.get(name) ?? []);
      return [name, f1(f.rss), f1(f.anon), f1(f.file), f1(f.pssAnon), f1(f.pssFile), String(f.threads)];
    }),
  );
}

/** The pieces of flanneld, each as the body of a module (bundled by bun, then loaded). */
const PIECES: ReadonlyArray<readonly [string, string, boolean]> = [
  // [name, module source, loads under bun]
  ['empty module', 'export const x = 1;', true],
  ['node builtins flanneld imports (http, net, crypto, child_process, fs/promises)', "import * as a from 'node:http'; import * as b from 'node:net'; import * as c from 'node:crypto'; import * as d from 'node:child_process'; import * as e from 'node:fs/promises'; export const x = [a, b, c, d, e];", true],
  ['zod (classic API, one schema)', "import { z } from 'zod'; export const s = z.object({ Network: z.string(), SubnetLen: z.number().int().optional(), Backend: z.object({ Type: z.string() }).passthrough().optional() }); s.parse({ Network: '10.0.0.0/8' });", true],
  ['zod/mini (same schema)', "import * as z from 'zod/mini'; export const s = z.object({ Network: z.string(), SubnetLen: z.optional(z.int()), Backend: z.optional(z.looseObject({ Type: z.string() })) }); s.parse({ Network: '10.0.0.0/8' });", true],
  ['pino (a logger)', "import pino from 'pino'; export const l = pino({}, pino.destination(1));", true],
  ['prom-client (registry + counter)', "import { Registry, Counter } from 'prom-client'; export const r = new Registry(); new Counter({ name: 'x', help: 'x', registers: [r] });", true],
  ['prom-client + collectDefaultMetrics', "import { Registry, collectDefaultMetrics } from 'prom-client'; export const r = new Registry(); collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 100 });", true],
  ['netlink (external; a raw rtnetlink socket)', "import { RawNetlinkSocket } from 'netlink'; export const s = new RawNetlinkSocket(0, {}); s.unref();", false],
  ['@grpc/grpc-js', "import * as g from '@grpc/grpc-js'; export const x = g;", true],
  ['etcd3 (external; a client, not connected: grpc-js + protobufjs + rpc.proto)', "import { Etcd3 } from 'etcd3'; export const c = new Etcd3({ hosts: 'http://127.0.0.1:1' });", true],
];

const MEASURE = `
const gc = globalThis.Bun ? () => Bun.gc(true) : globalThis.gc;
await new Promise((r) => setTimeout(r, 1500));
gc(); gc();
await new Promise((r) => setTimeout(r, 500));
const { readFileSync } = await import('node:fs');
const st = readFileSync('/proc/self/status', 'utf8');
const kib = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(st)[1]);
console.log(JSON.stringify({ anon: kib('RssAnon') / 1024, file: kib('RssFile') / 1024, heap: process.memoryUsage().heapUsed / 1048576 }));
process.exit(0);
`;

type Runtime = 'node' | 'bun' | 'bun --smol' | 'bun, JIT off (BUN_JSC_useJIT=0)';

interface PieceCost {
  anon: number;
  file: number;
  heap: number;
}

function loadCost(runtime: Runtime, modules: readonly string[]): PieceCost | string {
  const script = join(work, `load-${runtime}-${modules.length}-${Math.random().toString(36).slice(2)}.mjs`);
  const tune = runtime === 'node' ? `const { setFlagsFromString } = await import('node:v8'); for (const f of ${JSON.stringify(V8_FLAGS)}) setFlagsFromString(f);\n` : '';
  writeFileSync(script, `${tune}for (const m of ${JSON.stringify(modules)}) await import(m);\n${MEASURE}`);
  const argv = runtime === 'node' ? [NODE, '--expose-gc', script] : runtime === 'bun --smol' ? [BUN, '--smol', script] : [BUN, script];
  const env = runtime.includes('JIT off') ? { ...process.env, BUN_JSC_useJIT: '0' } : process.env;
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) return `fails: ${(r.stderr.split('\n').find((l) => /panic|Error|error:/.test(l)) ?? `exit ${r.status}`).trim()}`;
  return JSON.parse(line) as PieceCost;
}

function packageCosts(): void {
  const bundles = PIECES.map(([name, source, bunLoads], i) => ({ name, files: [bunBundle(`piece${i}`, source)], bunLoads }));
  // Together: what flanneld loads (each package once: zod/mini, the bare registry and grpc-js alone are left out).
  const together = bundles.filter((b) => !/^(empty|zod\/mini|prom-client \(registry|@grpc)/.test(b.name));
  for (const runtime of ['node', 'bun', 'bun --smol', 'bun, JIT off (BUN_JSC_useJIT=0)'] as const) {
    const rows: string[][] = [];
    let base: PieceCost | undefined;
    const sets = [...bundles, { name: 'all of them (each package once)', files: together.flatMap((b) => b.files), bunLoads: false }, { name: 'all of them but netlink', files: together.filter((b) => b.bunLoads).flatMap((b) => b.files), bunLoads: true }];
    for (const set of sets) {
      if (runtime !== 'node' && !set.bunLoads) {
        rows.push([set.name, 'does not load (see below)', '', '']);
        continue;
      }
      const costs = Array.from({ length: RUNS }, () => loadCost(runtime, set.files));
      const ok = costs.filter((c): c is PieceCost => typeof c !== 'string');
      if (ok.length === 0) {
        rows.push([set.name, String(costs[0]), '', '']);
        continue;
      }
      const m: PieceCost = { anon: median(ok.map((c) => c.anon)), file: median(ok.map((c) => c.file)), heap: median(ok.map((c) => c.heap)) };
      const b = (base ??= m);
      const d = (x: number, y: number): string => (m === b ? f1(x) : `${x - y >= 0 ? '+' : ''}${f1(x - y)}`);
      rows.push([set.name, d(m.anon, b.anon), d(m.file, b.file), d(m.heap, b.heap)]);
    }
    const what = runtime === 'node' ? `node ${process.version} with flanneld's V8 flags` : runtime;
    console.log(`## What flanneld's packages add, on ${what} (MiB; first row absolute, the others over it; median of ${RUNS}; heap after two full GCs)\n`);
    table(['loaded', 'anonymous RSS', 'file-mapped RSS', runtime === 'node' ? 'V8 heap used' : 'JS heap used'], rows);
  }
}

function netlinkUnderBun(): void {
  console.log('## The native addons under bun\n');
  const tries: Array<[string, string]> = [
    ["require('netlink')", "require('netlink'); console.log('loaded')"],
    ['new RawNetlinkSocket(NETLINK_ROUTE)', "const { RawNetlinkSocket } = require('netlink'); const s = new RawNetlinkSocket(0, {}); console.log('socket', s.address().port); s.close()"],
  ];
  const tun = join(ROOT, 'native/tun/build/Release/flannel_tun.node');
  // Its pump watches the TUN device with uv_poll as well (native/tun/src/tun.cc), which needs a TUN device to reach.
  if (existsSync(tun)) tries.push(['native/tun addon (udp backend): load only', `require(${JSON.stringify(tun)}); console.log('loaded')`]);
  const rows = tries.map(([what, code]) => {
    const r = spawnSync(BUN, ['-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const panic = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /panic|error/i.test(l))?.trim();
    return [what, r.status === 0 ? `ok: ${r.stdout.trim()}` : `exit ${r.status ?? r.signal}: ${panic ?? ''}`];
  });
  table(['under bun', 'result'], rows);
}

async function idleFlanneld(): Promise<void> {
  const cli = join(ROOT, 'dist/cli/flannel-ts.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const nodes = Number(values['lab-nodes']);
  const name = uniquePrefix('rf');
  const lab = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(NODE, [cli, 'lab', '--name', name, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  cleanups.push(() => void lab('down'));
  console.log(`## Idle flanneld (dist/cli/flanneld.js on node; lab ${name}: ${nodes} nodes, ${values['lab-pods']} pods each; after ${values['lab-settle']} s)\n`);
  const up = lab('up', '--nodes', String(nodes), '--pods', String(values['lab-pods']));
  const pidFiles = Array.from({ length: nodes }, (_, i) => `/run/flannel-ts/lab/${name}/node${i + 1}/flanneld.pid`);
  if (!pidFiles.every((f) => existsSync(f))) throw new Error(`lab up failed: ${String(up.stderr).slice(-2000)}`);
  // Exit 1 also means a probe or a doctor check failed; flanneld runs all the same.
  if (up.status !== 0) console.log(`(lab up exited ${up.status}: ${String(up.stdout).split('\n').filter((l) => /reachable|doctor:/.test(l)).join('; ')})\n`);
  const pids = pidFiles.map((f) => Number(readFileSync(f, 'utf8')));
  await new Promise((r) => setTimeout(r, Number(values['lab-settle']) * 1000));
  const ticks = (pid: number): number => {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(rest[11]) + Number(rest[12]);
  };
  // The main thread's: the event loop waking up.
  const wakeups = (pid: number): number => kib(readFileSync(`/proc/${pid}/status`, 'utf8'), 'voluntary_ctxt_switches');
  const before = pids.map((p) => [ticks(p), wakeups(p)] as const);
  const windowS = 30;
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const rows = pids.map((pid, i) => {
    const f = footprint(pid);
    const metrics = spawnSync('ip', ['netns', 'exec', `${name}-n${i + 1}`, 'curl', '-s', '127.0.0.1:10256/metrics'], { encoding: 'utf8' }).stdout;
    const heap = (k: string): number => Number(new RegExp(`^${k} (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN) / 1048576;
    const [t0 = 0, w0 = 0] = before[i] ?? [];
    return { ...f, heapTotal: heap('nodejs_heap_size_total_bytes'), heapUsed: heap('nodejs_heap_size_used_bytes'), cpu: (ticks(pid) - t0) / windowS, wakeups: (wakeups(pid) - w0) / windowS };
  });
  type Row = (typeof rows)[number];
  const cells = (r: Row): string[] => [f1(r.rss), f1(r.anon), f1(r.file), f1(r.pssAnon), f1(r.pssFile), String(r.threads), f1(r.heapTotal), f1(r.heapUsed), `${r.cpu.toFixed(2)} %`, r.wakeups.toFixed(0)];
  const head = ['RSS', 'anonymous', 'file-mapped', 'PSS anon', 'PSS file', 'threads', 'V8 heap total', 'V8 heap used', `CPU over ${windowS} s`, 'wake-ups/s'];
  if (rows.length <= 4) {
    table(['flanneld', ...head], rows.map((r, i) => [`node${i + 1}`, ...cells(r)]));
    return;
  }
  const of = (pick: (r: Row) => number): number[] => rows.map(pick);
  const agg = (fn: (xs: number[]) => number): Row => {
    const keys = Object.keys(rows[0] as Row) as Array<keyof Row>;
    return Object.fromEntries(keys.map((k) => [k, fn(of((r) => r[k]))])) as Row;
  };
  table(
    [`${rows.length} flanneld`, ...head],
    [
      ['median', ...cells(agg(median))],
      ['min', ...cells(agg((xs) => Math.min(...xs)))],
      ['max', ...cells(agg((xs) => Math.max(...xs)))],
      ['sum', ...cells(agg((xs) => xs.reduce((a, b) => a + b, 0)))],
    ],
  );
}

try {
  if (SECTIONS.has('floors')) await runtimeFloors();
  if (SECTIONS.has('packages')) packageCosts();
  if (SECTIONS.has('addons')) netlinkUnderBun();
  if (SECTIONS.has('lab')) await idleFlanneld();
} finally {
  await cleanup();
}
