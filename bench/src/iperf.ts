/**
 * iperf3 TCP runs between namespaces of the run, taken in turn per path so that a burst of load on
 * the machine lands on both sides of a ratio, with packet counts read from a device's counters on
 * both nodes around each run. Servers and clients run only inside the run's namespaces.
 */
import { spawnSync } from 'node:child_process';
import { nsExec, nsSpawn } from '../../src/lab/netns.ts';
import { round } from './stats.ts';

const IPERF_BASE_PORT = 5201;
let iperfCalls = 0;

/** Packets through a device during the best run, each counted once (data one way, ACKs the other). */
export interface PacketRate {
  device: string;
  /** Both directions: tx_packets deltas on the sending node plus the receiving node, per second. */
  perSecond: number;
  /** Sender → receiver only (the data segments): the sending node's tx_packets delta per second. */
  forwardPerSecond: number;
}

export interface IperfResult {
  /** Best of the runs, Gbit/s. */
  gbps: number;
  runsGbps: number[];
  /** Measured on the path's device, for the best run (paths that name a device). */
  packets?: PacketRate;
}

export interface IperfPath {
  fromNs: string;
  toNs: string;
  ip: string;
  /** Count packets on this device in the two node namespaces (sender's node first). */
  counters?: { device: string; nodes: readonly [string, string] };
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

/** One iperf3 run from `fromNs` to `ip`:`port`: Gbit/s and the seconds iperf3 measured over (retried while the server is not reachable yet). */
async function iperfOnce(fromNs: string, ip: string, port: string, seconds: number): Promise<{ gbps: number; seconds: number }> {
  for (let attempt = 0; ; attempt++) {
    const res = spawnSync('ip', ['netns', 'exec', fromNs, 'iperf3', '-c', ip, '-p', port, '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
    let j: { end?: { sum_received?: { bits_per_second?: number; seconds?: number } }; error?: string } = {};
    try {
      j = JSON.parse(res.stdout) as typeof j;
    } catch {
      j = { error: res.stderr.trim() || `iperf3 exited with ${res.status}` };
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (bps !== undefined && res.status === 0) return { gbps: round(bps / 1e9, 2), seconds: j.end?.sum_received?.seconds ?? seconds };
    if (attempt >= 20 || !/refused|unable to connect/i.test(j.error ?? '')) throw new Error(`iperf3 ${fromNs} → ${ip}: ${j.error ?? 'no result'}`);
    await sleep(150);
  }
}

/** tx_packets of `device` in `ns` (the namespace's own sysfs, which `ip netns exec` mounts). */
function txPackets(ns: string, device: string): number {
  const n = Number(nsExec(ns, 'cat', [`/sys/class/net/${device}/statistics/tx_packets`]).trim());
  if (!Number.isFinite(n)) throw new Error(`[${ns}] ${device}: unreadable tx_packets`);
  return n;
}

/**
 * Waits until `ip` answers a ping from `fromNs` (peers are programmed after flanneld reports
 * ready; a WireGuard tunnel needs its first handshake): 60 s at most.
 */
export async function waitReachable(fromNs: string, ip: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync('ip', ['netns', 'exec', fromNs, 'ping', '-c', '1', '-W', '1', '-q', ip], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return;
    if (Date.now() > deadline) throw new Error(`${ip} does not answer a ping from ${fromNs} after ${timeoutMs / 1000} s: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' ')}`);
    await sleep(200);
  }
}

/**
 * Best of `runs` iperf3 runs per path, the paths taken in turn (ours, its floor, ours, ...), so
 * that a burst of load on the machine lands on both sides of a ratio rather than on one. Every
 * path is pinged first, so a path that is not up yet fails with its address, not with iperf3's
 * connect timeout.
 */
export async function iperfInterleaved<K extends string>(paths: Record<K, IperfPath>, seconds: number, runs: number, progress: (m: string) => void): Promise<Record<K, IperfResult>> {
  const keys = Object.keys(paths) as K[];
  for (const k of keys) await waitReachable(paths[k].fromNs, paths[k].ip);
  const servers: Array<{ port: string; stop: () => void }> = [];
  try {
    for (const k of keys) servers.push(await startIperfServer(paths[k].toNs));
    const measured = keys.map(() => [] as Array<{ gbps: number; packets?: PacketRate }>);
    for (let r = 0; r < runs; r++) {
      for (const [i, k] of keys.entries()) {
        const path = paths[k];
        progress(`iperf3 ${k} (${path.ip}), run ${r + 1}/${runs}`);
        const c = path.counters;
        const before = c ? c.nodes.map((ns) => txPackets(ns, c.device)) : [];
        const run = await iperfOnce(path.fromNs, path.ip, (servers[i] as { port: string }).port, seconds);
        let packets: PacketRate | undefined;
        if (c) {
          const [fwd = 0, back = 0] = c.nodes.map((ns, j) => txPackets(ns, c.device) - (before[j] as number));
          packets = { device: c.device, perSecond: Math.round((fwd + back) / run.seconds), forwardPerSecond: Math.round(fwd / run.seconds) };
        }
        (measured[i] as Array<{ gbps: number; packets?: PacketRate }>).push({ gbps: run.gbps, ...(packets ? { packets } : {}) });
      }
    }
    return Object.fromEntries(
      keys.map((k, i) => {
        const all = measured[i] as Array<{ gbps: number; packets?: PacketRate }>;
        const best = all.reduce((a, b) => (b.gbps > a.gbps ? b : a));
        const result: IperfResult = { gbps: best.gbps, runsGbps: all.map((x) => x.gbps), ...(best.packets ? { packets: best.packets } : {}) };
        return [k, result];
      }),
    ) as Record<K, IperfResult>;
  } finally {
    for (const s of servers) s.stop();
  }
}

export function mtuOf(ns: string, dev: string): number | null {
  try {
    return Number(nsExec(ns, 'cat', [`/sys/class/net/${dev}/mtu`]).trim());
  } catch {
    return null;
  }
}
