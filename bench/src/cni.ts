/**
 * CNI ADD/DEL latency: the flannel plugin (compiled, with its bridge + host-local delegates) per
 * pod, against the floor of what any compiled bun plugin must pay: bridge run directly with the
 * delegate configuration flannel saved for that pod, plus the start-up of an empty program
 * compiled the same way as the plugin (scripts/build-cni.mjs --empty). The difference is our own
 * code; the target is at most TARGET_MS for ADD and for DEL. Timed by the agent inside the
 * node's namespace, as kubelet's runtime would call the plugins there; per pod, the plugin,
 * bridge alone and the empty program run one after the other, so a change in the machine's
 * load hits ours and the floor alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Cluster, LabNode } from '../../src/lab/cluster.ts';
import { nodeConfList } from '../../src/lab/lab-pods.ts';
import { Netns } from '../../src/lab/netns.ts';
import type { CniSample } from './agent.ts';
import { Agent } from './agent-client.ts';
import { BUILD_CACHE, ROOT } from './build.ts';
import type { BenchContext } from './context.ts';
import { median, ratio, round, summarize, type Summary } from './stats.ts';

export const DEBIAN_CNI_DIR = '/usr/lib/cni';
const POOL = 4;
/** What our own code may add to a call above the floor, ADD and DEL alike (issue 17). */
export const TARGET_MS = 0.5;

export interface CniRow {
  /** The plugin's call (bun start-up, our code, the delegate). */
  ours: Summary;
  /** bridge run directly with the saved configuration. */
  bridge: Summary;
  /** The empty compiled bun program. */
  bun: Summary;
  /** bridge + empty program, summed per pod. */
  floor: Summary;
  /** ours / floor. */
  ratioP50: number;
  ratioP99: number;
  /** ours - floor, ms, of the medians and of the p99s. */
  overP50: number;
  overP99: number;
  /**
   * Median over the pods of (ours - floor) of the same pod: what our own code costs, less moved
   * by a change of the machine's load during the run than the difference of the medians.
   */
  overPerPodP50: number;
  /** overPerPodP50 within TARGET_MS. */
  pass: boolean;
}

export interface CniResult {
  pods: number;
  targetMs: number;
  add: CniRow;
  del: CniRow;
}

function rounded(s: Summary): Summary {
  return { n: s.n, min: round(s.min, 2), p50: round(s.p50, 2), p99: round(s.p99, 2), max: round(s.max, 2), mean: round(s.mean, 2) };
}

function row(ours: number[], bridge: number[], bun: number[]): CniRow {
  const o = summarize(ours);
  const floors = bridge.map((b, i) => b + (bun[i] ?? Number.NaN));
  const floor = summarize(floors);
  const overPerPodP50 = round(median(ours.map((x, i) => x - (floors[i] ?? Number.NaN))), 2);
  return {
    ours: rounded(o),
    bridge: rounded(summarize(bridge)),
    bun: rounded(summarize(bun)),
    floor: rounded(floor),
    ratioP50: ratio(o.p50, floor.p50),
    ratioP99: ratio(o.p99, floor.p99),
    overP50: round(o.p50 - floor.p50, 2),
    overP99: round(o.p99 - floor.p99, 2),
    overPerPodP50,
    pass: overPerPodP50 <= TARGET_MS,
  };
}

/** The empty program, built with the plugin's flags into this run's build directory. */
function buildEmptyBun(ctx: BenchContext): string {
  const out = join(BUILD_CACHE, ctx.prefix, 'floor', 'bun-empty');
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-cni.mjs'), '--empty', '--outfile', out], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the empty bun program failed (status ${r.status}):\n${r.stdout}${r.stderr}`);
  return out;
}

export async function runCni(ctx: BenchContext, _cluster: Cluster, node: LabNode): Promise<CniResult> {
  const list = nodeConfList(node);
  const plugin = list.plugins.find((p) => p.type === 'flannel');
  if (!plugin) throw new Error('the shipped conflist has no flannel plugin');
  const conf = JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...plugin });
  const dataDir = String(plugin.dataDir);
  ctx.progress('[cni] compiling an empty bun program with the plugin\'s flags (the floor\'s start-up)');
  const emptyBun = buildEmptyBun(ctx);
  const pool = Array.from({ length: POOL }, (_, i) => Netns.create(`${node.ns}-c${i}`));
  const agent = await Agent.start(node.ns);
  const base = {
    cmd: 'cni' as const,
    conf,
    dataDir,
    cniPath: `${dirname(ctx.artifacts.cniPlugin)}:${DEBIAN_CNI_DIR}`,
    pods: 1,
    warmup: 0,
  };
  /** One pod: flannel ADD, DEL, then bridge ADD, DEL with what flannel saved. */
  const ours = async (i: number): Promise<CniSample> => {
    const netns = [`/var/run/netns/${(pool[i % POOL] as Netns).name}`];
    const { samples } = await agent.request<{ samples: CniSample[] }>({ ...base, flannel: ctx.artifacts.cniPlugin, delegate: `${DEBIAN_CNI_DIR}/bridge`, netns, idPrefix: `bench-${ctx.prefix}-${i}-` });
    return samples[0] as CniSample;
  };
  /**
   * The empty program four times, the way the agent runs a plugin and its delegate (stdin, the
   * CNI_* environment); it reads nothing, but the agent reads the "saved" file between.
   */
  const empties = async (i: number): Promise<CniSample> => {
    const idPrefix = `bench-${ctx.prefix}-e${i}-`;
    const saved = join(dataDir, `${idPrefix}0000`);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(saved, conf);
    try {
      const netns = [`/var/run/netns/${(pool[i % POOL] as Netns).name}`];
      const { samples } = await agent.request<{ samples: CniSample[] }>({ ...base, flannel: emptyBun, delegate: emptyBun, netns, idPrefix });
      return samples[0] as CniSample;
    } finally {
      rmSync(saved, { force: true });
    }
  };
  try {
    const warmup = ctx.options.smoke ? 1 : 5;
    const pods = ctx.options.cniPods;
    ctx.progress(`[cni] ${pods} pods: flannel ADD/DEL, bridge-only ADD/DEL and an empty bun program, alternating per pod`);
    const addOurs: number[] = [];
    const delOurs: number[] = [];
    const addBridge: number[] = [];
    const delBridge: number[] = [];
    const addBun: number[] = [];
    const delBun: number[] = [];
    const allBun: number[] = [];
    for (let i = 0; i < warmup + pods; i++) {
      // Alternate which goes first, so that neither always runs right after the other.
      let o: CniSample;
      let e: CniSample;
      if (i % 2 === 0) {
        o = await ours(i);
        e = await empties(i);
      } else {
        e = await empties(i);
        o = await ours(i);
      }
      if (i < warmup) continue;
      addOurs.push(o.addMs);
      delOurs.push(o.delMs);
      addBridge.push(o.floorAddMs);
      delBridge.push(o.floorDelMs);
      addBun.push(e.addMs);
      delBun.push(e.delMs);
      allBun.push(e.addMs, e.delMs, e.floorAddMs, e.floorDelMs);
    }
    // Each pod's floor: its bridge call plus one empty-program start of the same pod.
    const add = row(addOurs, addBridge, addBun);
    const del = row(delOurs, delBridge, delBun);
    // The empty program's own summary from all four of its runs per pod.
    add.bun = rounded(summarize(allBun));
    del.bun = add.bun;
    return { pods, targetMs: TARGET_MS, add, del };
  } finally {
    await agent.stop();
    for (const ns of pool) ns.delete();
  }
}
