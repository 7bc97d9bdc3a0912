/**
 * CNI ADD/DEL latency: the flannel plugin (compiled, with its bridge + host-local delegates) per
 * pod, beside the delegate-only floor: bridge run directly with the delegate configuration flannel
 * saved for that pod. Timed by the agent inside the node's namespace, as kubelet's runtime would
 * call the plugins there.
 */
import { dirname } from 'node:path';
import type { Cluster, LabNode } from '../../src/lab/cluster.ts';
import { nodeConfList } from '../../src/lab/lab-pods.ts';
import { Netns } from '../../src/lab/netns.ts';
import type { CniSample } from './agent.ts';
import { Agent } from './agent-client.ts';
import type { BenchContext } from './context.ts';
import { ratio, round, summarize, type Summary } from './stats.ts';

export const DEBIAN_CNI_DIR = '/usr/lib/cni';
const POOL = 4;

export interface CniResult {
  pods: number;
  add: { ours: Summary; floor: Summary; ratioP50: number; ratioP99: number };
  del: { ours: Summary; floor: Summary; ratioP50: number; ratioP99: number };
}

function rounded(s: Summary): Summary {
  return { n: s.n, min: round(s.min, 2), p50: round(s.p50, 2), p99: round(s.p99, 2), max: round(s.max, 2), mean: round(s.mean, 2) };
}

export async function runCni(ctx: BenchContext, _cluster: Cluster, node: LabNode): Promise<CniResult> {
  const list = nodeConfList(node);
  const plugin = list.plugins.find((p) => p.type === 'flannel');
  if (!plugin) throw new Error('the shipped conflist has no flannel plugin');
  const conf = JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...plugin });
  const dataDir = String(plugin.dataDir);
  const pool = Array.from({ length: POOL }, (_, i) => Netns.create(`${node.ns}-c${i}`));
  const agent = await Agent.start(node.ns);
  try {
    ctx.progress(`[cni] ${ctx.options.cniPods} pods: flannel ADD/DEL and bridge-only ADD/DEL, alternating`);
    const { samples } = await agent.request<{ samples: CniSample[] }>({
      cmd: 'cni',
      flannel: ctx.artifacts.cniPlugin,
      delegate: `${DEBIAN_CNI_DIR}/bridge`,
      conf,
      dataDir,
      cniPath: `${dirname(ctx.artifacts.cniPlugin)}:${DEBIAN_CNI_DIR}`,
      netns: pool.map((ns) => `/var/run/netns/${ns.name}`),
      pods: ctx.options.cniPods,
      warmup: ctx.options.smoke ? 1 : 5,
      idPrefix: `bench-${ctx.prefix}-`,
    });
    const add = summarize(samples.map((s) => s.addMs));
    const floorAdd = summarize(samples.map((s) => s.floorAddMs));
    const del = summarize(samples.map((s) => s.delMs));
    const floorDel = summarize(samples.map((s) => s.floorDelMs));
    return {
      pods: samples.length,
      add: { ours: rounded(add), floor: rounded(floorAdd), ratioP50: ratio(add.p50, floorAdd.p50), ratioP99: ratio(add.p99, floorAdd.p99) },
      del: { ours: rounded(del), floor: rounded(floorDel), ratioP50: ratio(del.p50, floorDel.p50), ratioP99: ratio(del.p99, floorDel.p99) },
    };
  } finally {
    await agent.stop();
    for (const ns of pool) ns.delete();
  }
}
