/**
 * Data plane throughput with iperf3 (TCP), per backend, on a two-node lab cluster with a pod per
 * node created through the CNI plugin. Measured between the same two node namespaces:
 *   pod → pod              what flannel delivers to pods (pods' veth + cni0 bridge + flannel)
 *   hand-built pod → pod   floor with the same pod plumbing (veth into a bridge per node) over the
 *                          backend's hand-built link (floors.ts: a kernel VXLAN pair, static routes,
 *                          a wireguard-go tunnel, an ipip pair)
 *   node → node (flannel)  node1 → node2's cni0 address over flannel's route
 *   node → node floor      node1 → node2 over the hand-built link
 *   bare veth              node1 → node2 over the underlay, for context
 * What differs per backend is in dataplane-backends.ts. iperf3 servers and clients run only inside
 * the lab's namespaces.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cluster, type LabNode } from '../../src/lab/cluster.ts';
import { addLabPod, type LabPod } from '../../src/lab/lab-pods.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { runCni, DEBIAN_CNI_DIR, type CniResult } from './cni.ts';
import type { BenchContext, Backend } from './context.ts';
import type { DataPlaneBackend } from './dataplane-backends.ts';
import { buildFloors } from './floors.ts';
import { iperfInterleaved, mtuOf, type IperfPath, type IperfResult } from './iperf.ts';
import { ratio } from './stats.ts';

export type { IperfResult } from './iperf.ts';

export interface BackendThroughput {
  backend: Backend;
  /** The floor, as the report names it ("hand-built VXLAN", "static routes", ...). */
  floorKind: string;
  /**
   * flannel: FLANNEL_MTU from subnet.env; pod: the pod's eth0; device: flanneld's device (`device`);
   * floor: the hand-built link's (and its pods').
   */
  mtu: { flannel: number | null; pod: number | null; device?: number | null; floor?: number };
  /** The device flanneld carries the pods' traffic on (MTU and packet counters read from it). */
  device?: string;
  /** flannel.1's tx-checksum-ip-generic after flanneld set it up (vxlan). */
  txChecksumOffload?: string;
  /** pod → pod; its `packets` are counted on `device`. */
  podToPod: IperfResult;
  /** vxlan diagnostic: pod → pod after turning flannel.1's TX checksum offload back on, on both nodes. */
  podToPodOffloadOn?: IperfResult;
  /** Hand-built pods (veth into a bridge on each node) over the hand-built link; `packets` on the link's device. */
  podFloor: IperfResult;
  nodeToNode: IperfResult;
  /** Node to node over the hand-built link. */
  floor: IperfResult;
  bareVeth: IperfResult;
  /** pod → pod / hand-built pod → pod: the target's measure (same pod plumbing on both sides). */
  ratioPod: number;
  /** node → node over flannel / over the hand-built link. */
  ratioNode: number;
}

/** A backend this machine cannot run: the row says why. */
export interface SkippedThroughput {
  backend: Backend;
  floorKind: string;
  /** "this kernel has no ipip module" */
  skipped: string;
  /** What the probe answered. */
  detail: string;
}

export type ThroughputRow = BackendThroughput | SkippedThroughput;

export const isSkipped = (t: ThroughputRow): t is SkippedThroughput => 'skipped' in t;

export async function runDataPlane(ctx: BenchContext, entry: DataPlaneBackend, withCni: boolean): Promise<{ throughput?: ThroughputRow; cni?: CniResult }> {
  const o = ctx.options;
  const backend = entry.type;
  const unavailable = entry.unavailable?.(ctx);
  if (unavailable) {
    ctx.progress(`[${backend}] not measured: ${unavailable.reason} (${unavailable.detail})`);
    return o.sections.has('throughput') ? { throughput: { backend, floorKind: entry.floor.kind, skipped: unavailable.reason, detail: unavailable.detail } } : {};
  }
  const prefix = `${ctx.prefix}${entry.labTag}`;
  const stateDir = join(ctx.stateRoot, `dataplane-${backend}`);
  mkdirSync(stateDir, { recursive: true });
  ctx.progress(`[${backend}] data plane: two-node lab ${prefix}`);
  ctx.registerCleanup(() => Cluster.down(prefix, stateDir));
  const cluster = await Cluster.up({
    prefix,
    nodes: 2,
    netconf: { Network: '10.244.0.0/16', Backend: entry.backendSection },
    ipMasq: true,
    stateDir,
    progress: (m) => ctx.progress(`  ${m}`),
  });
  let stopFloor = (): void => undefined;
  try {
    const [n1, n2] = cluster.nodes as [LabNode, LabNode];
    const out: { throughput?: BackendThroughput; cni?: CniResult } = {};
    if (o.sections.has('throughput')) {
      const cniPath = `${dirname(ctx.artifacts.cniPlugin)}:${DEBIAN_CNI_DIR}`;
      ctx.progress(`[${backend}] creating a pod per node through the CNI plugin`);
      const p1: LabPod = addLabPod(cluster, n1, 1, cniPath);
      const p2: LabPod = addLabPod(cluster, n2, 1, cniPath);
      const env2Text = readFileSync(n2.subnetFile, 'utf8');
      const env2 = parseSubnetEnv(env2Text, n2.subnetFile);
      // FLANNEL_SUBNET as written ("10.244.7.1/24") is cni0's gateway address on node2.
      const cni0Ip = /^FLANNEL_SUBNET=([\d.]+)\//m.exec(env2Text)?.[1];
      if (!cni0Ip) throw new Error(`${n2.subnetFile} has no FLANNEL_SUBNET`);
      const flannelMtu = env2.mtu;
      ctx.progress(`[${backend}] building the floor: ${entry.floor.kind}`);
      const floors = await buildFloors(entry.floor, { a: n1, b: n2, podMtu: flannelMtu, registerCleanup: (fn) => ctx.registerCleanup(fn) });
      stopFloor = floors.stop;
      const s = o.iperfSeconds;
      const runs = o.iperfRuns;
      const nodes = [n1.ns, n2.ns] as const;
      const podPath: IperfPath = { fromNs: p1.ns, toNs: p2.ns, ip: p2.ip, counters: { device: entry.device, nodes } };
      const { podToPod, podFloor, nodeToNode, floor, bareVeth } = await iperfInterleaved(
        {
          podToPod: podPath,
          podFloor: { fromNs: floors.pod1, toNs: floors.pod2, ip: floors.pod2Ip, counters: { device: floors.device, nodes } },
          nodeToNode: { fromNs: n1.ns, toNs: n2.ns, ip: cni0Ip },
          floor: { fromNs: n1.ns, toNs: n2.ns, ip: floors.nodeIp },
          bareVeth: { fromNs: n1.ns, toNs: n2.ns, ip: n2.underlayIP },
        },
        s,
        runs,
        (m) => ctx.progress(`[${backend}] ${m} (floor: ${entry.floor.kind})`),
      );
      const diagnostic = entry.diagnose
        ? await entry.diagnose({
            nodes: [n1, n2],
            podToPodAgain: async (label) => (await iperfInterleaved({ again: podPath }, s, runs, (m) => ctx.progress(`[${backend}] ${m} (${label})`))).again,
            progress: (m) => ctx.progress(`[${backend}] ${m}`),
          })
        : {};
      out.throughput = {
        backend,
        floorKind: entry.floor.kind,
        mtu: { flannel: flannelMtu, pod: mtuOf(p1.ns, 'eth0'), device: mtuOf(n1.ns, entry.device), floor: floors.mtu },
        device: entry.device,
        ...diagnostic,
        podToPod,
        podFloor,
        nodeToNode,
        floor,
        bareVeth,
        ratioPod: ratio(podToPod.gbps, podFloor.gbps),
        ratioNode: ratio(nodeToNode.gbps, floor.gbps),
      };
      const pps = podToPod.packets ? `, ${podToPod.packets.perSecond} packets/s on ${podToPod.packets.device}` : '';
      ctx.progress(
        `[${backend}] pod ${podToPod.gbps}${diagnostic.podToPodOffloadOn ? ` (offload on: ${diagnostic.podToPodOffloadOn.gbps})` : ''}${pps} vs ${podFloor.gbps}; node ${nodeToNode.gbps} vs ${floor.gbps}; veth ${bareVeth.gbps} Gbit/s`,
      );
      stopFloor();
    }
    if (withCni) out.cni = await runCni(ctx, cluster, n1);
    return out;
  } finally {
    stopFloor();
    Cluster.down(prefix, stateDir);
  }
}
