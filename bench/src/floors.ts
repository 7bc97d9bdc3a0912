/**
 * Hand-built floors between two lab nodes, untouched by flanneld (other devices, VNI, ports,
 * addresses): a link between the nodes (a kernel VXLAN pair, static routes, a wireguard-go tunnel,
 * an ipip pair) and a hand-built pod on each node (a veth into a bridge, as the bridge plugin makes
 * them, 172.30.N.2/24) routed over it, so "pod → pod floor" has the same pod plumbing as flannel's
 * pods. Everything lives in the nodes' namespaces (and one pod namespace per node) and goes with
 * them; `stop()` ends the processes a floor started.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeMachine, type LabNode } from '../../src/lab/cluster.ts';
import { Netns, sh } from '../../src/lab/netns.ts';
import { mtuOf } from './iperf.ts';

/** The two nodes a floor joins, and the MTU flanneld gave its pods there. */
export interface FloorEnds {
  readonly a: LabNode;
  readonly b: LabNode;
  readonly podMtu: number;
  /** Runs on the way out of the benchmark, also after a failure. */
  registerCleanup(fn: () => void): void;
}

/** What a built floor link offers: node b's address over it, and its device on both nodes. */
export interface FloorLink {
  /** Node b's address over the link (node-level floor target, from node a). */
  readonly nodeIp: string;
  /** The device the link's packets are counted on, on both nodes. */
  readonly device: string;
  /** The link's MTU, also the hand-built pods'. */
  readonly mtu: number;
  /** Ends what the link started (processes); the namespaces take the rest with them. */
  stop(): void;
}

export interface Floors extends FloorLink {
  pod1: string;
  pod2: string;
  pod2Ip: string;
}

export interface FloorBuilder {
  /** As the report names it: "hand-built VXLAN", "static routes", ... */
  readonly kind: string;
  /** Builds the link and routes `podSubnet(1)` / `podSubnet(2)` (the hand-built pods') over it. */
  build(ends: FloorEnds): Promise<FloorLink>;
}

/** The hand-built pods' subnet on node `x` (1 or 2); `.1` is the node's bridge, `.2` the pod. */
export const podSubnet = (x: 1 | 2): string => `172.30.${x}.0/24`;

const VXLAN_FLOOR_VNI = '4242';
const VXLAN_FLOOR_PORT = '4789';
const VXLAN_OVERHEAD = 50;
const WG_FLOOR_DEVICE = 'wgfloor';
const WG_FLOOR_PORT = '51900';

/** The pair of `[node, its peer, x]` a symmetric link is built from. */
function bothWays(e: FloorEnds): Array<{ self: LabNode; other: LabNode; x: 1 | 2; y: 1 | 2 }> {
  return [
    { self: e.a, other: e.b, x: 1, y: 2 },
    { self: e.b, other: e.a, x: 2, y: 1 },
  ];
}

/** A kernel VXLAN device pair (its own VNI and port), with an MTU a VXLAN fits in: flannel's pod MTU where it does. */
export const vxlanPair: FloorBuilder = {
  kind: 'hand-built VXLAN',
  build: async (e) => {
    const underlay = mtuOf(e.a.ns, 'eth0') ?? 1500;
    const mtu = Math.min(e.podMtu, underlay - VXLAN_OVERHEAD);
    for (const { self, other, x, y } of bothWays(e)) {
      const ns = new Netns(self.ns);
      ns.exec('ip', ['link', 'add', 'vxfloor', 'type', 'vxlan', 'id', VXLAN_FLOOR_VNI, 'local', self.underlayIP, 'remote', other.underlayIP, 'dev', 'eth0', 'dstport', VXLAN_FLOOR_PORT, 'nolearning']);
      ns.exec('ip', ['link', 'set', 'vxfloor', 'mtu', String(mtu), 'up']);
      ns.exec('ip', ['addr', 'add', `172.31.255.${x}/30`, 'dev', 'vxfloor']);
      ns.exec('ip', ['route', 'add', podSubnet(y), 'via', `172.31.255.${y}`, 'dev', 'vxfloor']);
    }
    return { nodeIp: '172.31.255.2', device: 'vxfloor', mtu, stop: () => undefined };
  },
};

/** Static routes over the underlay (what host-gw programs, by hand). */
export const staticRoutes: FloorBuilder = {
  kind: 'static routes',
  build: async (e) => {
    const na = new Netns(e.a.ns);
    const nb = new Netns(e.b.ns);
    nb.exec('ip', ['addr', 'add', '172.31.254.1/32', 'dev', 'lo']);
    na.exec('ip', ['route', 'add', '172.31.254.0/24', 'via', e.b.underlayIP, 'dev', 'eth0']);
    na.exec('ip', ['route', 'add', podSubnet(2), 'via', e.b.underlayIP, 'dev', 'eth0']);
    nb.exec('ip', ['route', 'add', podSubnet(1), 'via', e.a.underlayIP, 'dev', 'eth0']);
    return { nodeIp: '172.31.254.1', device: 'eth0', mtu: e.podMtu, stop: () => undefined };
  },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A wireguard-go tunnel per node (device wgfloor, port 51900, no pre-shared key), run on the node's
 * machine: wireguard-go's UAPI socket is /var/run/wireguard/<dev>.sock, per machine, so it and `wg`
 * must see the node's own /run. MTU = flannel's pod MTU (flannel-wg's, 1420 on a 1500 underlay).
 */
export const wireguardGoTunnel: FloorBuilder = {
  kind: 'hand-built wireguard-go tunnel',
  build: async (e) => {
    const procs: ChildProcess[] = [];
    const stop = (): void => {
      for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    };
    e.registerCleanup(() => {
      for (const p of procs.splice(0)) p.kill('SIGKILL');
    });
    try {
      const keys = bothWays(e).map(({ self }) => {
        const priv = sh('wg', ['genkey']).trim();
        const dir = join(self.dir, 'wgfloor');
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, 'private.key');
        writeFileSync(file, `${priv}\n`, { mode: 0o600 });
        return { file, pub: sh('wg', ['pubkey'], `${priv}\n`).trim() };
      });
      for (const { self } of bothWays(e)) {
        const m = nodeMachine(self);
        const stderr: string[] = [];
        // In a session of its own, as flannel-wg's wireguard-go runs (flanneld is detached from the
        // lab; on a node it is a service): with CFS autogroup, a wireguard-go sharing the bench's
        // session shares its CPU group with iperf3 and carried ~15% more than the same tunnel in
        // its own sessions (341 vs 291 Mbit/s here), which is all the gap this row used to show.
        const p = m.spawn('wireguard-go', ['-f', WG_FLOOR_DEVICE], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' } });
        p.stderr?.on('data', (d: Buffer) => stderr.length < 20 && stderr.push(d.toString()));
        procs.push(p);
        const socket = m.outside(`/run/wireguard/${WG_FLOOR_DEVICE}.sock`);
        const deadline = Date.now() + 30_000;
        while (!existsSync(socket)) {
          if (p.exitCode !== null || p.signalCode !== null) throw new Error(`wireguard-go ${WG_FLOOR_DEVICE} on ${self.name} exited (${p.exitCode ?? p.signalCode}): ${stderr.join('').trim()}`);
          if (Date.now() > deadline) throw new Error(`wireguard-go ${WG_FLOOR_DEVICE} on ${self.name}: no UAPI socket ${socket} after 30 s`);
          await sleep(50);
        }
      }
      for (const [i, { self, other, x, y }] of bothWays(e).entries()) {
        const m = nodeMachine(self);
        const own = keys[i] as { file: string };
        const peer = keys[1 - i] as { pub: string };
        m.exec('wg', ['set', WG_FLOOR_DEVICE, 'private-key', own.file, 'listen-port', WG_FLOOR_PORT, 'peer', peer.pub, 'endpoint', `${other.underlayIP}:${WG_FLOOR_PORT}`, 'allowed-ips', `172.31.252.${y}/32,${podSubnet(y)}`]);
        const ns = new Netns(self.ns);
        ns.exec('ip', ['addr', 'add', `172.31.252.${x}/30`, 'dev', WG_FLOOR_DEVICE]);
        ns.exec('ip', ['link', 'set', WG_FLOOR_DEVICE, 'mtu', String(e.podMtu), 'up']);
        ns.exec('ip', ['route', 'add', podSubnet(y), 'dev', WG_FLOOR_DEVICE]);
      }
    } catch (err) {
      stop();
      throw err;
    }
    return { nodeIp: '172.31.252.2', device: WG_FLOOR_DEVICE, mtu: e.podMtu, stop };
  },
};

/**
 * An ipip pair. Its outer addresses are extra /32s on each node's eth0 (192.168.50.20N), so the
 * kernel's tunnel lookup (local + remote first) never hands flannel.ipip's packets (node to node,
 * any remote) to this device.
 */
export const ipipPair: FloorBuilder = {
  kind: 'hand-built ipip pair',
  build: async (e) => {
    const outer = (n: LabNode): string => `192.168.50.${200 + n.index}`;
    for (const { self } of bothWays(e)) new Netns(self.ns).exec('ip', ['addr', 'add', `${outer(self)}/32`, 'dev', 'eth0']);
    for (const { self, other, x, y } of bothWays(e)) {
      const ns = new Netns(self.ns);
      ns.exec('ip', ['link', 'add', 'ipfloor', 'type', 'ipip', 'local', outer(self), 'remote', outer(other)]);
      ns.exec('ip', ['link', 'set', 'ipfloor', 'mtu', String(e.podMtu), 'up']);
      ns.exec('ip', ['addr', 'add', `172.31.253.${x}/30`, 'dev', 'ipfloor']);
      ns.exec('ip', ['route', 'add', podSubnet(y), 'via', `172.31.253.${y}`, 'dev', 'ipfloor']);
    }
    return { nodeIp: '172.31.253.2', device: 'ipfloor', mtu: e.podMtu, stop: () => undefined };
  },
};

/** A hand-built pod on each node (veth into bridge brfloor, 172.30.N.2/24), then the link between them. */
export async function buildFloors(builder: FloorBuilder, ends: FloorEnds): Promise<Floors> {
  const link = await builder.build(ends);
  try {
    const pods = ([ends.a, ends.b] as const).map((node, i) => {
      const x = i + 1;
      const host = new Netns(node.ns);
      const pod = Netns.create(`${node.ns}-fp`);
      host.exec('ip', ['link', 'add', 'brfloor', 'type', 'bridge']);
      host.exec('ip', ['addr', 'add', `172.30.${x}.1/24`, 'dev', 'brfloor']);
      host.exec('ip', ['link', 'set', 'brfloor', 'up']);
      host.exec('ip', ['link', 'add', 'vfloor', 'mtu', String(link.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(link.mtu), 'netns', pod.name]);
      host.exec('ip', ['link', 'set', 'vfloor', 'master', 'brfloor', 'up']);
      pod.exec('ip', ['addr', 'add', `172.30.${x}.2/24`, 'dev', 'eth0']);
      pod.exec('ip', ['link', 'set', 'eth0', 'up']);
      pod.exec('ip', ['route', 'add', 'default', 'via', `172.30.${x}.1`]);
      return pod.name;
    });
    return { ...link, pod1: pods[0] as string, pod2: pods[1] as string, pod2Ip: '172.30.2.2' };
  } catch (err) {
    link.stop();
    throw err;
  }
}
