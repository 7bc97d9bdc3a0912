/**
 * Control plane at scale, per backend, on a one-node lab cluster:
 * - convergence: N fake peer leases in etcd, then flanneld started; the agent in the node's
 *   namespace polls the kernel until every peer's route (and, for vxlan, neighbour and FDB entry)
 *   is there. Floor: the same objects applied with `ip -batch` / `bridge -batch` in a fresh
 *   namespace, alternating with our runs;
 * - single-lease latency: one new lease put at a time, timed to its route notification;
 * - flanneld's RSS and CPU time, idle (no peers) and after converging on the largest N.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, ETCD_PREFIX, type LabNode } from '../../src/lab/cluster.ts';
import { Netns } from '../../src/lab/netns.ts';
import { IPAddress } from '../../src/ip/index.ts';
import { encodeLeaseAttrs } from '../../src/lease/codec.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import type { ConvergeResult, FakeLease, LeaseLatencySample } from './agent.ts';
import { Agent } from './agent-client.ts';
import type { BenchContext, ControlPlaneBackend as Backend } from './context.ts';
import { readTimeline, startFlanneld, wallNow } from './lab.ts';
import { procStats, type ProcStats } from './proc.ts';
import { median, ratio, round, summarize, type Summary } from './stats.ts';

/** Big enough for 5000+ /24 peers. */
export const BENCH_NETWORK = '10.0.0.0/8';
/** Fake peers' PublicIPs; the node gets an on-link route to it, so host-gw programs them. */
export const PEER_UNDERLAY = '172.20.0.0/16';
const NODE_IP = '192.168.50.11';
const VTEP = 'flannel.1';
const LEASE_TTL_SECONDS = 86_400;

export interface ConvergenceRun {
  /** flanneld spawned → every peer object in the kernel. */
  totalMs: number;
  /** First peer object seen → every peer object seen: the kernel programming pass. */
  kernelMs: number;
  /** Milestones from flanneld's log (ms after spawn); undefined when the line is missing. */
  split: { bootMs?: number; startupMs?: number; etcdReadMs?: number; planMs?: number; kernelMs: number; logPeersMs?: number };
  /** How precisely the agent's polls place the first and last object (ms). */
  resolutionMs: number;
  polls: number;
}

export interface ConvergenceSize {
  n: number;
  leaseWriteMs: number;
  floor: { samplesMs: number[]; medianMs: number; parts: { neighMs: number; fdbMs: number; routeMs: number } };
  ours: { runs: ConvergenceRun[]; kernelMedianMs: number; totalMedianMs: number; etcdReadMedianMs: number | null };
  ratioKernel: number;
  ratioTotal: number;
}

export interface ResourceSample extends ProcStats {
  peers: number;
  /** Highest and lowest VmRSS seen during the window (sampled every second). */
  rssMaxMiB: number;
  rssMinMiB: number;
  /** VmRSS at each one-second sample of the window, oldest first. */
  rssSeriesMiB: number[];
  /** CPU seconds spent during an idle window, per second of wall time. */
  idleCpuPerSecond: number;
  windowMs: number;
}

export interface LeaseLatencyResult {
  n: number;
  events: number;
  routeMs: Summary;
  putMs: Summary;
  timeouts: number;
  /** The slowest events: latency, and when the put was issued (s after flanneld started; it re-checks every peer every 10 s). */
  slowest: Array<{ routeMs: number | null; atS: number }>;
}

export interface BackendControlPlane {
  backend: Backend;
  sizes: ConvergenceSize[];
  latency?: LeaseLatencyResult;
  resources: { idle?: ResourceSample; loaded?: ResourceSample };
}

function mac(i: number): string {
  return ['0e', '00', '00', (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0'))).join(':');
}

/** Fake peers in a fixed order: subnet 10.(1+i/256).(i%256).0/24 (skipping the node's own), PublicIP 172.20.(i/250).(i%250+1). */
export class PeerFactory {
  readonly #ownK: number;
  readonly #backend: Backend;

  constructor(ownSubnet: string, backend: Backend) {
    const [a, b, c] = ownSubnet.split('.').map(Number) as [number, number, number];
    this.#ownK = a === 10 && b >= 1 ? (b - 1) * 256 + c : -1;
    this.#backend = backend;
  }

  peer(i: number): FakeLease & { publicIP: string; mac: string; subnetIp: string } {
    const k = this.#ownK >= 0 && i >= this.#ownK ? i + 1 : i;
    const subnetIp = `10.${1 + (k >> 8)}.${k & 255}.0`;
    const publicIP = `172.20.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const m = mac(i);
    const value = encodeLeaseAttrs({
      publicIP: IPAddress.parse(publicIP),
      backendType: this.#backend,
      ...(this.#backend === 'vxlan' ? { backendData: { VNI: 1, VtepMAC: m } } : {}),
    });
    return { key: `${ETCD_PREFIX}/subnets/${subnetIp}-24`, value, dst: `${subnetIp}/24`, publicIP, mac: m, subnetIp };
  }

  range(from: number, count: number): Array<ReturnType<PeerFactory['peer']>> {
    return Array.from({ length: count }, (_, j) => this.peer(from + j));
  }
}

/** `ip -batch` + `bridge -batch` with the objects flanneld would program, in a fresh namespace. */
function floorOnce(ctx: BenchContext, backend: Backend, peers: ReadonlyArray<ReturnType<PeerFactory['peer']>>, ownSubnetIp: string, dir: string, k: number): { totalMs: number; neighMs: number; fdbMs: number; routeMs: number } {
  const ns = Netns.create(`${ctx.prefix}-f${k}`);
  try {
    ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    ns.exec('ip', ['link', 'set', 'eth0p', 'up']);
    ns.exec('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', 'eth0']);
    ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    ns.exec('ip', ['route', 'add', PEER_UNDERLAY, 'dev', 'eth0']);
    const files = { neigh: join(dir, `floor-${backend}-neigh.batch`), fdb: join(dir, `floor-${backend}-fdb.batch`), route: join(dir, `floor-${backend}-route.batch`) };
    if (backend === 'vxlan') {
      ns.exec('ip', ['link', 'add', VTEP, 'type', 'vxlan', 'id', '1', 'local', NODE_IP, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
      ns.exec('ip', ['link', 'set', VTEP, 'mtu', '1450', 'up']);
      ns.exec('ip', ['addr', 'add', `${ownSubnetIp}/32`, 'dev', VTEP]);
      writeFileSync(files.neigh, peers.map((p) => `neigh replace ${p.subnetIp} lladdr ${p.mac} dev ${VTEP} nud permanent\n`).join(''));
      writeFileSync(files.fdb, peers.map((p) => `fdb append ${p.mac} dev ${VTEP} dst ${p.publicIP} self permanent\n`).join(''));
      writeFileSync(files.route, peers.map((p) => `route replace ${p.subnetIp}/24 via ${p.subnetIp} dev ${VTEP} onlink\n`).join(''));
    } else {
      writeFileSync(files.route, peers.map((p) => `route replace ${p.subnetIp}/24 via ${p.publicIP} dev eth0\n`).join(''));
    }
    const timed = (cmd: string, file: string): number => {
      const t0 = performance.now();
      const r = spawnSync(cmd, ['-n', ns.name, '-batch', file], { encoding: 'utf8' });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${cmd} -batch ${file} failed: ${r.stderr}`);
      return ms;
    };
    const neighMs = backend === 'vxlan' ? timed('ip', files.neigh) : 0;
    const fdbMs = backend === 'vxlan' ? timed('bridge', files.fdb) : 0;
    const routeMs = timed('ip', files.route);
    const routes = ns.exec('ip', ['route', 'show', 'root', BENCH_NETWORK]).split('\n').filter(Boolean).length;
    if (routes !== peers.length) throw new Error(`floor: ${routes} routes in ${ns.name}, expected ${peers.length}`);
    return { totalMs: neighMs + fdbMs + routeMs, neighMs, fdbMs, routeMs };
  } finally {
    ns.delete();
  }
}

/** Removes every peer object from the node's kernel so the next start programs them all. */
function resetKernel(node: LabNode, backend: Backend): void {
  const ns = new Netns(node.ns);
  if (backend === 'vxlan') {
    try {
      ns.exec('ip', ['link', 'del', VTEP]);
    } catch {
      /* not there */
    }
  }
  ns.exec('ip', ['route', 'flush', 'root', BENCH_NETWORK]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function runControlPlane(ctx: BenchContext, backend: Backend): Promise<BackendControlPlane> {
  const o = ctx.options;
  const prefix = `${ctx.prefix}${backend === 'vxlan' ? 'v' : 'h'}`;
  const stateDir = join(ctx.stateRoot, `control-${backend}`);
  mkdirSync(stateDir, { recursive: true });
  ctx.progress(`[${backend}] control plane: one-node lab ${prefix}`);
  const cluster = await Cluster.up({
    prefix,
    nodes: 1,
    netconf: { Network: BENCH_NETWORK, SubnetLen: 24, Backend: { Type: backend } },
    ipMasq: false,
    stateDir,
    progress: (m) => ctx.progress(`  ${m}`),
  });
  ctx.registerCleanup(() => Cluster.down(prefix, stateDir));
  const node = cluster.nodes[0] as LabNode;
  const nodeNs = new Netns(node.ns);
  nodeNs.exec('ip', ['route', 'add', PEER_UNDERLAY, 'dev', 'eth0']);
  const env = parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile);
  const ownSubnetIp = env.subnet?.ip.toString() ?? '10.0.0.0';
  await cluster.stopFlanneld(node);
  const peers = new PeerFactory(ownSubnetIp, backend);
  const agent = await Agent.start(node.ns);
  const result: BackendControlPlane = { backend, sizes: [], resources: {} };
  let running: number | undefined;
  let flanneldStartedAt = 0;
  const start = (label: string): { pid: number; startedAt: number } => {
    const prof = ctx.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`, `--cpu-prof-name=flanneld-${backend}-${label}.cpuprofile`] : [];
    const flags = [...o.nodeFlags, ...prof];
    const s = startFlanneld(cluster, node, ctx.artifacts.flanneldArgv(flags));
    running = s.pid;
    return s;
  };
  const stop = async (): Promise<void> => {
    await cluster.stopFlanneld(node, 20_000);
    running = undefined;
  };
  const sample = async (peerCount: number): Promise<ResourceSample> => {
    if (running === undefined) throw new Error('flanneld is not running');
    const pid = running;
    await sleep(o.settleMs);
    const before = procStats(pid);
    const t0 = performance.now();
    // RSS moves with V8's garbage collection: watch it over the window.
    const rss: number[] = [before.rssMiB];
    while (performance.now() - t0 < o.cpuWindowMs) {
      await sleep(Math.min(1000, o.cpuWindowMs));
      rss.push(procStats(pid).rssMiB);
    }
    const after = procStats(pid);
    const windowMs = performance.now() - t0;
    return {
      ...after,
      rssMaxMiB: Math.max(...rss, after.rssMiB),
      rssMinMiB: Math.min(...rss, after.rssMiB),
      rssSeriesMiB: [...rss, after.rssMiB].map((x) => round(x, 1)),
      peers: peerCount,
      idleCpuPerSecond: round((after.cpuSeconds - before.cpuSeconds) / (windowMs / 1000), 4),
      windowMs: round(windowMs, 0),
    };
  };

  try {
    if (o.sections.has('resources')) {
      ctx.progress(`[${backend}] flanneld idle (no peers): RSS and CPU`);
      resetKernel(node, backend);
      start('idle');
      await cluster.waitReady(node);
      result.resources.idle = await sample(0);
      await stop();
    }

    const largest = Math.max(...o.sizes);
    for (const n of o.sizes) {
      ctx.progress(`[${backend}] N=${n}: writing ${n} peer leases`);
      const list = peers.range(0, n);
      const written = await agent.request<{ leaseIds: string[]; ms: number }>({ cmd: 'writeLeases', endpoints: cluster.etcdEndpoints, leases: list, ttlSeconds: LEASE_TTL_SECONDS, concurrency: 32 });
      const leaseIds = [...written.leaseIds];
      const floorSamples: Array<ReturnType<typeof floorOnce>> = [];
      const runs: ConvergenceRun[] = [];
      const doConvergence = o.sections.has('convergence') || (n === largest && o.sections.has('resources')) || (n === o.latencyAt && o.sections.has('latency'));
      const iterations = o.sections.has('convergence') ? o.iterations : 1;
      for (let it = 0; it < iterations && doConvergence; it++) {
        if (o.sections.has('convergence')) floorSamples.push(floorOnce(ctx, backend, list, ownSubnetIp, stateDir, it));
        resetKernel(node, backend);
        const poll = agent.requestStarted<ConvergeResult>({ cmd: 'converge', mode: backend, vtep: VTEP, ext: 'eth0', network: BENCH_NETWORK, expect: n, timeoutMs: 60_000 + n * 20, pollGapMs: 2 });
        await poll.started;
        const { startedAt } = start(`n${n}-${it}`);
        flanneldStartedAt = startedAt;
        const r = await poll.result;
        if (r.timedOut) {
          throw new Error(`flanneld did not program ${n} peers in time (found ${JSON.stringify(r.counts)}); last log lines:\n${cluster.logTail(node)}`);
        }
        // Midpoints of the poll intervals that bracket the first and last object.
        const first = (r.firstSeenAt + r.firstNotBefore) / 2;
        const complete = (r.completeAt + r.completeNotBefore) / 2;
        await waitForLog(node.logFile, n);
        const tl = readTimeline(node.logFile);
        const rel = (t: number | undefined): number | undefined => (t === undefined ? undefined : round(t - startedAt, 1));
        const run: ConvergenceRun = {
          totalMs: round(complete - startedAt, 1),
          kernelMs: round(complete - first, 1),
          split: {
            ...(tl.firstLine !== undefined ? { bootMs: rel(tl.firstLine) } : {}),
            ...(tl.ready !== undefined && tl.firstLine !== undefined ? { startupMs: round(tl.ready - tl.firstLine, 1) } : {}),
            ...(tl.snapshot !== undefined && tl.ready !== undefined ? { etcdReadMs: round(tl.snapshot - tl.ready, 1) } : {}),
            ...(tl.snapshot !== undefined ? { planMs: round(first - tl.snapshot, 1) } : {}),
            kernelMs: round(complete - first, 1),
            ...(tl.lastPeerAdded !== undefined ? { logPeersMs: round(tl.lastPeerAdded - complete, 1) } : {}),
          },
          resolutionMs: round(Math.max(r.firstSeenAt - r.firstNotBefore, r.completeAt - r.completeNotBefore) / 2, 1),
          polls: r.polls,
        };
        runs.push(run);
        ctx.progress(`[${backend}] N=${n} #${it + 1}: ours ${run.totalMs} ms from spawn, ${run.kernelMs} ms programming${floorSamples.length ? `; floor ${round(floorSamples[floorSamples.length - 1]?.totalMs ?? NaN, 1)} ms` : ''}`);
        const last = it === iterations - 1;
        if (!last) {
          await stop();
          continue;
        }
        if (n === o.latencyAt && o.sections.has('latency') && backend === 'vxlan') {
          ctx.progress(`[${backend}] N=${n}: ${o.latencyEvents} single new leases, put → route`);
          const fresh = peers.range(n, o.latencyEvents);
          const lat = await agent.request<{ samples: LeaseLatencySample[]; leaseIds: string[] }>({ cmd: 'leaseLatency', endpoints: cluster.etcdEndpoints, leases: fresh, ttlSeconds: LEASE_TTL_SECONDS, gapMs: [20, 60], timeoutMs: 5000 });
          leaseIds.push(...lat.leaseIds);
          const routed = lat.samples.map((s) => s.routeMs).filter((x): x is number => x !== null);
          const slowest = [...lat.samples]
            .sort((a, b) => (b.routeMs ?? Infinity) - (a.routeMs ?? Infinity))
            .slice(0, 5)
            .map((s) => ({ routeMs: s.routeMs === null ? null : round(s.routeMs, 1), atS: round((s.at - flanneldStartedAt) / 1000, 2) }));
          result.latency = { n, events: lat.samples.length, routeMs: roundSummary(summarize(routed)), putMs: roundSummary(summarize(lat.samples.map((s) => s.putMs))), timeouts: lat.samples.length - routed.length, slowest };
          ctx.progress(`[${backend}] lease → route: p50 ${result.latency.routeMs.p50} ms, p99 ${result.latency.routeMs.p99} ms`);
        }
        if (n === largest && o.sections.has('resources')) {
          ctx.progress(`[${backend}] N=${n}: flanneld RSS and CPU after converging`);
          result.resources.loaded = await sample(n);
        }
        await stop();
      }
      if (o.sections.has('convergence')) {
        const floorMs = floorSamples.map((f) => f.totalMs);
        const kernelMedian = median(runs.map((r) => r.kernelMs));
        const totalMedian = median(runs.map((r) => r.totalMs));
        const etcd = runs.map((r) => r.split.etcdReadMs).filter((x): x is number => x !== undefined);
        result.sizes.push({
          n,
          leaseWriteMs: round(written.ms, 0),
          floor: {
            samplesMs: floorMs.map((x) => round(x, 1)),
            medianMs: round(median(floorMs), 1),
            parts: { neighMs: round(median(floorSamples.map((f) => f.neighMs)), 1), fdbMs: round(median(floorSamples.map((f) => f.fdbMs)), 1), routeMs: round(median(floorSamples.map((f) => f.routeMs)), 1) },
          },
          ours: { runs, kernelMedianMs: round(kernelMedian, 1), totalMedianMs: round(totalMedian, 1), etcdReadMedianMs: etcd.length ? round(median(etcd), 1) : null },
          ratioKernel: ratio(kernelMedian, median(floorMs)),
          ratioTotal: ratio(totalMedian, median(floorMs)),
        });
      }
      ctx.progress(`[${backend}] N=${n}: removing the peer leases`);
      await agent.request({ cmd: 'revokeLeases', endpoints: cluster.etcdEndpoints, leaseIds, concurrency: 32 });
    }
  } finally {
    if (running !== undefined) await stop().catch(() => undefined);
    await agent.stop();
    Cluster.down(prefix, stateDir);
  }
  return result;
}

/** flanneld logs "peer added" after its pass; wait (briefly) until all N are logged, for the timeline. */
async function waitForLog(logFile: string, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = wallNow() + timeoutMs;
  while (wallNow() < deadline) {
    if (readTimeline(logFile).peersAdded >= n) return;
    await sleep(50);
  }
}

function roundSummary(s: Summary): Summary {
  return { n: s.n, min: round(s.min, 2), p50: round(s.p50, 2), p99: round(s.p99, 2), max: round(s.max, 2), mean: round(s.mean, 2) };
}
