/**
 * Data plane throughput with iperf3 (TCP), per backend, on a two-node lab cluster with a pod per
 * node created through the CNI plugin. Measured between the same two node namespaces:
 *   pod → pod              what flannel delivers to pods (pods' veth + cni0 bridge + flannel)
 *   hand-built pod → pod   floor with the same pod plumbing (veth into a bridge per node) over a
 *                          hand-built kernel VXLAN device pair (vxlan: same MTU, other VNI/port)
 *                          or hand-written static routes (host-gw)
 *   node → node (flannel)  node1 → node2's cni0 address over flannel's route
 *   node → node floor      node1 → node2 over the hand-built VXLAN pair / a static route
 *   bare veth              node1 → node2 over the underlay, for context
 * iperf3 servers and clients run only inside the lab's namespaces.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cluster, type LabNode } from '../../src/lab/cluster.ts';
import { addLabPod, type LabPod } from '../../src/lab/lab-pods.ts';
import { Netns, nsExec, nsSpawn } from '../../src/lab/netns.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { runCni, DEBIAN_CNI_DIR, type CniResult } from './cni.ts';
import type { BenchContext, Backend } from './context.ts';
import { ratio, round } from './stats.ts';

const IPERF_BASE_PORT = 5201;
let iperfCalls = 0;
const FLOOR_VNI = '4242';
const FLOOR_PORT = '4789';

export interface IperfResult {
  /** Best of the runs, Gbit/s. */
  gbps: number;
  runsGbps: number[];
}

export interface BackendThroughput {
  backend: Backend;
  mtu: { flannel: number | null; pod: number | null };
  /** flannel.1's tx-checksum-ip-generic after flanneld set it up (vxlan). */
  txChecksumOffload?: string;
  podToPod: IperfResult;
  /** vxlan diagnostic: pod → pod after turning flannel.1's TX checksum offload back on, on both nodes. */
  podToPodOffloadOn?: IperfResult;
  /** Hand-built pods (veth into a bridge on each node) over the hand-built tunnel / static routes. */
  podFloor: IperfResult;
  nodeToNode: IperfResult;
  /** Node to node over the hand-built tunnel / static route. */
  floor: IperfResult;
  bareVeth: IperfResult;
  /** pod → pod / hand-built pod → pod: the target's measure (same pod plumbing on both sides). */
  ratioPod: number;
  /** node → node over flannel / over the hand-built tunnel or route. */
  ratioNode: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An iperf3 server in `ns` on a port of its own (a previous server may still hold the last one),
 * returned once it listens: under load its start-up can outlast any fixed retry window.
 */
async function startIperfServer(ns: string): Promise<{ port: string; stop: () => void }> {
  const port = String(IPERF_BASE_PORT + (iperfCalls++ % 200));
  const server = nsSpawn(ns, 'iperf3', ['-s', '-p', port], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (nsExec(ns, 'ss', ['-Hltn', `sport = :${port}`]).trim() === '') {
    if (server.exitCode !== null || Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`iperf3 server in ${ns} did not listen on port ${port}`);
    }
    await sleep(50);
  }
  return { port, stop: () => server.kill('SIGKILL') };
}

/** One iperf3 run from `fromNs` to `ip`:`port`, in Gbit/s (retried while the server is not reachable yet). */
async function iperfOnce(fromNs: string, ip: string, port: string, seconds: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const res = spawnSync('ip', ['netns', 'exec', fromNs, 'iperf3', '-c', ip, '-p', port, '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
    let j: { end?: { sum_received?: { bits_per_second?: number } }; error?: string } = {};
    try {
      j = JSON.parse(res.stdout) as typeof j;
    } catch {
      j = { error: res.stderr.trim() || `iperf3 exited with ${res.status}` };
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (bps !== undefined && res.status === 0) return round(bps / 1e9, 2);
    if (attempt >= 20 || !/refused|unable to connect/i.test(j.error ?? '')) throw new Error(`iperf3 ${fromNs} → ${ip}: ${j.error ?? 'no result'}`);
    await sleep(150);
  }
}

interface IperfPath {
  fromNs: string;
  toNs: string;
  ip: string;
}

/**
 * Best of `runs` iperf3 runs per path, the paths taken in turn (ours, its floor, ours, ...), so
 * that a burst of load on the machine lands on both sides of a ratio rather than on one.
 */
async function iperfInterleaved<K extends string>(paths: Record<K, IperfPath>, seconds: number, runs: number, progress: (m: string) => void): Promise<Record<K, IperfResult>> {
  const keys = Object.keys(paths) as K[];
  const servers: Array<{ port: string; stop: () => void }> = [];
  try {
    for (const k of keys) servers.push(await startIperfServer(paths[k].toNs));
    const runsGbps = keys.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      for (const [i, k] of keys.entries()) {
        progress(`iperf3 ${k} (${paths[k].ip}), run ${r + 1}/${runs}`);
        (runsGbps[i] as number[]).push(await iperfOnce(paths[k].fromNs, paths[k].ip, (servers[i] as { port: string }).port, seconds));
      }
    }
    return Object.fromEntries(keys.map((k, i) => [k, { gbps: Math.max(...(runsGbps[i] as number[])), runsGbps: runsGbps[i] as number[] }])) as Record<K, IperfResult>;
  } finally {
    for (const s of servers) s.stop();
  }
}

function mtuOf(ns: string, dev: string): number | null {
  try {
    return Number(nsExec(ns, 'cat', [`/sys/class/net/${dev}/mtu`]).trim());
  } catch {
    return null;
  }
}

interface Floors {
  /** Node-level floor target on node2 (from node1's namespace). */
  nodeIp: string;
  /** Hand-built pods: same plumbing as the CNI's (veth into a bridge per node), our tunnel/routes. */
  pod1: string;
  pod2: string;
  pod2Ip: string;
}

/**
 * Hand-built floors between node1 and node2, untouched by flanneld (other device, VNI, port,
 * addresses): a VXLAN device pair (vxlan) or static routes (host-gw), at node level, and a
 * hand-built pod on each node (veth into a bridge, like the bridge plugin makes) routed over them.
 */
function buildFloors(backend: Backend, a: LabNode, b: LabNode, mtu: number): Floors {
  const na = new Netns(a.ns);
  const nb = new Netns(b.ns);
  const pods = [a, b].map((node, i) => {
    const x = i + 1;
    const host = new Netns(node.ns);
    const pod = Netns.create(`${node.ns}-fp`);
    host.exec('ip', ['link', 'add', 'brfloor', 'type', 'bridge']);
    host.exec('ip', ['addr', 'add', `172.30.${x}.1/24`, 'dev', 'brfloor']);
    host.exec('ip', ['link', 'set', 'brfloor', 'up']);
    host.exec('ip', ['link', 'add', 'vfloor', 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'netns', pod.name]);
    host.exec('ip', ['link', 'set', 'vfloor', 'master', 'brfloor', 'up']);
    pod.exec('ip', ['addr', 'add', `172.30.${x}.2/24`, 'dev', 'eth0']);
    pod.exec('ip', ['link', 'set', 'eth0', 'up']);
    pod.exec('ip', ['route', 'add', 'default', 'via', `172.30.${x}.1`]);
    return pod.name;
  });
  let nodeIp: string;
  if (backend === 'vxlan') {
    for (const [ns, local, remote, addr] of [
      [na, a.underlayIP, b.underlayIP, '172.31.255.1/30'],
      [nb, b.underlayIP, a.underlayIP, '172.31.255.2/30'],
    ] as const) {
      ns.exec('ip', ['link', 'add', 'vxfloor', 'type', 'vxlan', 'id', FLOOR_VNI, 'local', local, 'remote', remote, 'dev', 'eth0', 'dstport', FLOOR_PORT, 'nolearning']);
      ns.exec('ip', ['link', 'set', 'vxfloor', 'mtu', String(mtu), 'up']);
      ns.exec('ip', ['addr', 'add', addr, 'dev', 'vxfloor']);
    }
    na.exec('ip', ['route', 'add', '172.30.2.0/24', 'via', '172.31.255.2', 'dev', 'vxfloor']);
    nb.exec('ip', ['route', 'add', '172.30.1.0/24', 'via', '172.31.255.1', 'dev', 'vxfloor']);
    nodeIp = '172.31.255.2';
  } else {
    nb.exec('ip', ['addr', 'add', '172.31.254.1/32', 'dev', 'lo']);
    na.exec('ip', ['route', 'add', '172.31.254.0/24', 'via', b.underlayIP, 'dev', 'eth0']);
    na.exec('ip', ['route', 'add', '172.30.2.0/24', 'via', b.underlayIP, 'dev', 'eth0']);
    nb.exec('ip', ['route', 'add', '172.30.1.0/24', 'via', a.underlayIP, 'dev', 'eth0']);
    nodeIp = '172.31.254.1';
  }
  return { nodeIp, pod1: pods[0] as string, pod2: pods[1] as string, pod2Ip: '172.30.2.2' };
}

export async function runDataPlane(ctx: BenchContext, backend: Backend, withCni: boolean): Promise<{ throughput?: BackendThroughput; cni?: CniResult }> {
  const o = ctx.options;
  const prefix = `${ctx.prefix}${backend === 'vxlan' ? 't' : 'g'}`;
  const stateDir = join(ctx.stateRoot, `dataplane-${backend}`);
  mkdirSync(stateDir, { recursive: true });
  ctx.progress(`[${backend}] data plane: two-node lab ${prefix}`);
  ctx.registerCleanup(() => Cluster.down(prefix, stateDir));
  const cluster = await Cluster.up({
    prefix,
    nodes: 2,
    netconf: { Network: '10.244.0.0/16', Backend: { Type: backend } },
    ipMasq: true,
    stateDir,
    progress: (m) => ctx.progress(`  ${m}`),
  });
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
      const floors = buildFloors(backend, n1, n2, flannelMtu);
      const s = o.iperfSeconds;
      const runs = o.iperfRuns;
      const kind = backend === 'vxlan' ? 'hand-built VXLAN' : 'static routes';
      const { podToPod, podFloor, nodeToNode, floor, bareVeth } = await iperfInterleaved(
        {
          podToPod: { fromNs: p1.ns, toNs: p2.ns, ip: p2.ip },
          podFloor: { fromNs: floors.pod1, toNs: floors.pod2, ip: floors.pod2Ip },
          nodeToNode: { fromNs: n1.ns, toNs: n2.ns, ip: cni0Ip },
          floor: { fromNs: n1.ns, toNs: n2.ns, ip: floors.nodeIp },
          bareVeth: { fromNs: n1.ns, toNs: n2.ns, ip: n2.underlayIP },
        },
        s,
        runs,
        (m) => ctx.progress(`[${backend}] ${m} (${kind} floors)`),
      );
      let txChecksumOffload: string | undefined;
      let podToPodOffloadOn: IperfResult | undefined;
      if (backend === 'vxlan') {
        try {
          txChecksumOffload = /tx-checksum-ip-generic:\s*(\S+)/.exec(nsExec(n1.ns, 'ethtool', ['-k', 'flannel.1']))?.[1];
        } catch {
          txChecksumOffload = 'unknown';
        }
        if (txChecksumOffload === 'off') {
          // Diagnostic: what flanneld's default of disabling TX checksum offload costs.
          for (const n of [n1, n2]) nsExec(n.ns, 'ethtool', ['-K', 'flannel.1', 'tx-checksum-ip-generic', 'on']);
          ctx.progress(`[${backend}] iperf3 pod → pod again with flannel.1 TX checksum offload on (diagnostic)`);
          ({ podToPodOffloadOn } = await iperfInterleaved({ podToPodOffloadOn: { fromNs: p1.ns, toNs: p2.ns, ip: p2.ip } }, s, runs, (m) => ctx.progress(`[${backend}] ${m} (diagnostic: flannel.1 TX checksum offload on)`)));
        }
      }
      out.throughput = {
        backend,
        mtu: { flannel: flannelMtu, pod: mtuOf(p1.ns, 'eth0') },
        ...(txChecksumOffload !== undefined ? { txChecksumOffload } : {}),
        podToPod,
        ...(podToPodOffloadOn ? { podToPodOffloadOn } : {}),
        podFloor,
        nodeToNode,
        floor,
        bareVeth,
        ratioPod: ratio(podToPod.gbps, podFloor.gbps),
        ratioNode: ratio(nodeToNode.gbps, floor.gbps),
      };
      ctx.progress(`[${backend}] pod ${podToPod.gbps}${podToPodOffloadOn ? ` (offload on: ${podToPodOffloadOn.gbps})` : ''} vs ${podFloor.gbps}; node ${nodeToNode.gbps} vs ${floor.gbps}; veth ${bareVeth.gbps} Gbit/s`);
    }
    if (withCni) out.cni = await runCni(ctx, cluster, n1);
    return out;
  } finally {
    Cluster.down(prefix, stateDir);
  }
}
