/**
 * Pod-to-pod throughput of the udp backend's data path against a hand-built VXLAN tunnel between
 * the same namespaces (the kernel's floor for an encapsulating overlay). Not a test: run by hand,
 * as root:
 *   node --import tsx test/perf/udp-throughput.ts [--seconds 10] [--runs 3] [--mode both|udp|vxlan] [--parallel 1]
 * Topology (all in namespaces this script creates and removes): a switch namespace with bridge
 * br0; two nodes (192.168.60.11/.12) on it; one pod per node behind a veth (10.244.1.2 and
 * 10.244.2.2). udp: test/integration/udp-tun-node.ts in each node (the backend's data plane with
 * the native pump). vxlan: a VXLAN device per node (VNI 42, dstport 4789) routed like flannel's.
 * iperf3 TCP from pod 1 to pod 2; packets per second from the devices' counters.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, runs: { type: 'string', default: '3' }, mode: { type: 'string', default: 'both' }, parallel: { type: 'string', default: '1' }, batch: { type: 'string' } } });
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const parallel = Number(values.parallel);
const prefix = uniquePrefix('udpperf');
const NODE_SCRIPT = fileURLToPath(new URL('../integration/udp-tun-node.ts', import.meta.url));

const created: Netns[] = [];
const children: ChildProcess[] = [];
const make = (name: string): Netns => {
  const ns = Netns.create(`${prefix}-${name}`);
  created.push(ns);
  return ns;
};

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const ns of created.reverse()) ns.delete();
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const sw = make('sw');
sw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
sw.exec('ip', ['link', 'set', 'br0', 'up']);
const nodes = [1, 2].map((i) => {
  const node = make(`n${i}`);
  const ip = `192.168.60.${10 + i}`;
  sw.exec('ip', ['link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.name]);
  sw.exec('ip', ['link', 'set', `v${i}`, 'master', 'br0', 'up']);
  node.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  node.exec('ip', ['link', 'set', 'eth0', 'up']);
  node.sysctl('net.ipv4.ip_forward', '1');
  const pod = make(`p${i}`);
  node.exec('ip', ['link', 'add', 'pod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name]);
  node.exec('ip', ['addr', 'add', `10.244.${i}.1/24`, 'dev', 'pod']);
  node.exec('ip', ['link', 'set', 'pod', 'up']);
  pod.exec('ip', ['addr', 'add', `10.244.${i}.2/24`, 'dev', 'eth0']);
  pod.exec('ip', ['link', 'set', 'eth0', 'up']);
  pod.exec('ip', ['route', 'add', 'default', 'via', `10.244.${i}.1`]);
  return { i, node, pod, ip };
});
const [a, b] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];

interface Result {
  gbps: number;
  pps: number;
  retransmits: number;
}

function setPodMtu(mtu: number): void {
  for (const n of nodes) {
    n.node.exec('ip', ['link', 'set', 'pod', 'mtu', String(mtu)]);
    n.pod.exec('ip', ['link', 'set', 'eth0', 'mtu', String(mtu)]);
  }
}

function linkPackets(ns: Netns, dev: string): number {
  const [l] = JSON.parse(ns.exec('ip', ['-j', '-s', 'link', 'show', dev])) as Array<{ stats64: { rx: { packets: number }; tx: { packets: number } } }>;
  return (l?.stats64.rx.packets ?? 0) + (l?.stats64.tx.packets ?? 0);
}

async function iperf(dev: string): Promise<Result> {
  const server = b.pod.spawn('iperf3', ['-s', '-1']);
  children.push(server);
  await new Promise((r) => setTimeout(r, 500));
  const before = linkPackets(a.node, dev) + linkPackets(b.node, dev);
  const out = a.pod.exec('iperf3', ['-c', '10.244.2.2', '-t', String(seconds), '-P', String(parallel), '-J']);
  const after = linkPackets(a.node, dev) + linkPackets(b.node, dev);
  server.kill();
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number; seconds: number }; sum_sent: { retransmits?: number } } };
  // Every packet crosses the device twice (out of one node, into the other): count it once.
  return { gbps: j.end.sum_received.bits_per_second / 1e9, pps: (after - before) / 2 / j.end.sum_received.seconds, retransmits: j.end.sum_sent.retransmits ?? 0 };
}

async function startUdpNode(n: (typeof nodes)[number], peer: (typeof nodes)[number]): Promise<{ proc: ChildProcess; stats(): Promise<unknown>; close(): Promise<void> }> {
  const spec = { network: '10.244.0.0/16', subnet: `10.244.${n.i}.0/24`, bind: n.ip, port: 8285, extMtu: 1500, peers: [{ subnet: `10.244.${peer.i}.0/24`, publicIP: peer.ip }], ...(values.batch ? { batch: Number(values.batch) } : {}) };
  const extra = process.env.UDP_PERF_NODE_ARGS ? process.env.UDP_PERF_NODE_ARGS.split(' ') : [];
  const proc = n.node.spawn(process.execPath, [...extra, '--import', 'tsx', NODE_SCRIPT, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const next = async (): Promise<string> => {
    const [line] = (await once(lines, 'line')) as [string];
    return line;
  };
  const first = JSON.parse(await next()) as { ready?: boolean };
  if (!first.ready) throw new Error(`udp node ${n.i}: ${JSON.stringify(first)}`);
  return {
    proc,
    stats: async () => {
      proc.stdin?.write('stats\n');
      return JSON.parse(await next());
    },
    close: async () => {
      proc.stdin?.write('close\n');
      await once(proc, 'exit');
    },
  };
}

function summary(name: string, rs: Result[]): string {
  const g = rs.map((r) => r.gbps);
  const p = rs.map((r) => r.pps);
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  return `${name}: ${med(g).toFixed(3)} Gbit/s median (runs ${g.map((x) => x.toFixed(3)).join(', ')}), ${Math.round(med(p))} packets/s median (${p.map((x) => Math.round(x)).join(', ')}), retransmits ${rs.map((r) => r.retransmits).join(', ')}`;
}

try {
  const results: Record<string, Result[]> = {};
  if (values.mode === 'both' || values.mode === 'udp') {
    setPodMtu(1472);
    const ua = await startUdpNode(a, b);
    const ub = await startUdpNode(b, a);
    a.pod.exec('ping', ['-c', '1', '-W', '5', '10.244.2.2']);
    // Resets the garbage collection counts: what the next stats show happened while packets flowed.
    await ua.stats();
    await ub.stats();
    results.udp = [];
    for (let r = 0; r < runs; r++) results.udp.push(await iperf('flannel0'));
    console.log(`udp node 1: ${JSON.stringify(await ua.stats())}`);
    console.log(`udp node 2: ${JSON.stringify(await ub.stats())}`);
    await ua.close();
    await ub.close();
  }
  if (values.mode === 'both' || values.mode === 'vxlan') {
    setPodMtu(1450);
    for (const [n, peer] of [[a, b], [b, a]] as const) {
      n.node.exec('ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', n.ip, 'remote', peer.ip, 'dstport', '4789', 'dev', 'eth0']);
      n.node.exec('ip', ['addr', 'add', `10.244.255.${n.i}/24`, 'dev', 'vx0']);
      n.node.exec('ip', ['link', 'set', 'vx0', 'up']);
      n.node.exec('ip', ['route', 'add', `10.244.${peer.i}.0/24`, 'via', `10.244.255.${peer.i}`, 'dev', 'vx0']);
    }
    a.pod.exec('ping', ['-c', '1', '-W', '5', '10.244.2.2']);
    results.vxlan = [];
    for (let r = 0; r < runs; r++) results.vxlan.push(await iperf('vx0'));
  }
  for (const [name, rs] of Object.entries(results)) console.log(summary(name, rs));
  const med = (rs: Result[] | undefined): number => (rs ? ([...rs].sort((x, y) => x.gbps - y.gbps)[Math.floor(rs.length / 2)]?.gbps ?? 0) : 0);
  if (results.udp && results.vxlan) console.log(`udp / vxlan: ${(med(results.udp) / med(results.vxlan)).toFixed(3)}`);
} finally {
  cleanup();
}
