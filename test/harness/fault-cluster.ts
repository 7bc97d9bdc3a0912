/**
 * A cluster for fault-injection tests: a switch namespace with the underlay bridge, etcd (the
 * test harness's, so it can be paused with SIGSTOP) in a control-plane namespace, and node
 * namespaces whose flanneld runs as a child of the test (exit codes and log lines are visible).
 * Everything carries the run's prefix and `down()` removes it, also after a failed test.
 *
 *   <prefix>-sw   bridge br0, 192.168.50.1/24 (the underlay gateway)
 *   <prefix>-cp   etcd on 192.168.50.2:<random port>
 *   <prefix>-nN   node N: eth0 = 192.168.50.(10+N)/24, default route via the switch
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cidr } from '../../src/ip/index.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { Netns, attachToSwitch, createSwitch, deleteNamespaces } from '../../src/lab/netns.ts';
import { startEtcd, type EtcdHandle } from './etcd.ts';
import { spawnFlanneld, type FlanneldProcess } from './flanneld.ts';
import { startEchoServer, type TestPod } from './pods.ts';

export const UNDERLAY_GATEWAY = '192.168.50.1';
export const ETCD_IP = '192.168.50.2';
export const ETCD_PREFIX = '/coreos.com/network';
export const HEALTH_PORT = 10256;
export const nodeIP = (i: number): string => `192.168.50.${10 + i}`;

export type IpJson = Array<Record<string, unknown>>;

export interface FaultNode {
  readonly index: number;
  readonly name: string;
  readonly ns: Netns;
  readonly underlayIP: string;
  readonly dir: string;
  /** The node's own /run, seen from outside (its processes see it as /run). */
  readonly runDir: string;
  /** Its /run/flannel/subnet.env, seen from outside. */
  readonly subnetFile: string;
  /** The flanneld running (or last run) on this node. */
  proc: FlanneldProcess | undefined;
  /** Every flanneld started on this node, oldest first. */
  readonly procs: FlanneldProcess[];
  pod: TestPod | undefined;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export class FaultCluster {
  readonly prefix: string;
  readonly dir: string;
  readonly switchNs: Netns;
  readonly controlNs: Netns;
  readonly etcd: EtcdHandle;
  readonly nodes: FaultNode[] = [];
  readonly etcdPrefix: string;
  #extraArgs: string[];

  private constructor(prefix: string, dir: string, sw: Netns, cp: Netns, etcd: EtcdHandle, extraArgs: string[]) {
    this.prefix = prefix;
    this.dir = dir;
    this.switchNs = sw;
    this.controlNs = cp;
    this.etcd = etcd;
    this.etcdPrefix = ETCD_PREFIX;
    this.#extraArgs = extraArgs;
  }

  /**
   * Switch, control plane and etcd; the network config is written when given. On failure what
   * was built is removed before the error propagates.
   */
  static async create(o: { prefix: string; netconf?: Record<string, unknown> | string; flanneldArgs?: string[] }): Promise<FaultCluster> {
    const dir = mkdtempSync(join(tmpdir(), `${o.prefix}-`));
    let etcd: EtcdHandle | undefined;
    try {
      const sw = createSwitch(`${o.prefix}-sw`);
      sw.exec('ip', ['addr', 'add', `${UNDERLAY_GATEWAY}/24`, 'dev', 'br0']);
      const cp = Netns.create(`${o.prefix}-cp`);
      attachToSwitch({ switchNs: sw, bridge: 'br0', ns: cp, ifname: 'eth0', cidr: `${ETCD_IP}/24`, peerName: 'v-cp' });
      etcd = await startEtcd({ netns: cp.name, host: ETCD_IP, startTimeoutMs: 60_000 });
      const cluster = new FaultCluster(o.prefix, dir, sw, cp, etcd, o.flanneldArgs ?? []);
      if (o.netconf !== undefined) await cluster.putConfig(o.netconf);
      return cluster;
    } catch (err) {
      await etcd?.stop().catch(() => undefined);
      deleteNamespaces(`${o.prefix}-`);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Stops every flanneld, etcd, and removes every namespace and file of the run. Safe to call twice. */
  async down(): Promise<void> {
    await Promise.all(this.nodes.flatMap((n) => n.procs.map((p) => p.stop(3000).catch(() => undefined))));
    await this.etcd.stop().catch(() => undefined);
    deleteNamespaces(`${this.prefix}-`);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async putConfig(netconf: Record<string, unknown> | string): Promise<void> {
    await this.ctl(['put', `${this.etcdPrefix}/config`, typeof netconf === 'string' ? netconf : JSON.stringify(netconf)]);
  }

  /** etcdctl in the control-plane namespace. */
  async ctl(args: string[]): Promise<string> {
    return await this.etcd.ctl(args);
  }

  /** A new node namespace on the switch (no flanneld yet). */
  addNode(): FaultNode {
    const index = this.nodes.length + 1;
    const ns = Netns.create(`${this.prefix}-n${index}`);
    attachToSwitch({ switchNs: this.switchNs, bridge: 'br0', ns, ifname: 'eth0', cidr: `${nodeIP(index)}/24`, peerName: `v-n${index}` });
    ns.exec('ip', ['route', 'add', 'default', 'via', UNDERLAY_GATEWAY, 'dev', 'eth0']);
    ns.sysctl('net.ipv4.ip_forward', '1');
    const dir = join(this.dir, `node${index}`);
    mkdirSync(dir, { recursive: true });
    const runDir = join(dir, 'run');
    const node: FaultNode = { index, name: `node${index}`, ns, underlayIP: nodeIP(index), dir, runDir, subnetFile: join(runDir, 'flannel', 'subnet.env'), proc: undefined, procs: [], pod: undefined };
    this.nodes.push(node);
    return node;
  }

  node(index: number): FaultNode {
    const n = this.nodes[index - 1];
    if (!n) throw new Error(`no node${index} (have ${this.nodes.length})`);
    return n;
  }

  flanneldArgs(node: FaultNode, extra: string[] = []): string[] {
    return [
      `--etcd-endpoints=${this.etcd.endpoint}`,
      `--etcd-prefix=${this.etcdPrefix}`,
      '--iface=eth0',
      '--subnet-file=/run/flannel/subnet.env',
      '--ip-masq=true',
      '--healthz-ip=127.0.0.1',
      `--healthz-port=${HEALTH_PORT}`,
      '--iptables-resync=2',
      '--log-format=text',
      ...this.#extraArgs,
      ...extra,
    ];
  }

  /** Starts flanneld on `node` (it must not be running). */
  start(node: FaultNode, extra: string[] = [], env?: Record<string, string>): FlanneldProcess {
    if (node.proc && running(node.proc)) throw new Error(`flanneld on ${node.name} is still running`);
    const p = spawnFlanneld({ netns: node.ns.name, runDir: node.runDir, args: this.flanneldArgs(node, extra), ...(env ? { env } : {}) });
    node.proc = p;
    node.procs.push(p);
    return p;
  }

  /** SIGTERM (graceful, keeps the lease) and wait for the exit. */
  async stop(node: FaultNode): Promise<ExitStatus> {
    if (!node.proc) throw new Error(`flanneld on ${node.name} was never started`);
    return await node.proc.stop(15_000);
  }

  /** SIGKILL and wait for the exit. */
  async kill(node: FaultNode): Promise<ExitStatus> {
    const p = node.proc;
    if (!p) throw new Error(`flanneld on ${node.name} was never started`);
    if (running(p)) p.child.kill('SIGKILL');
    return await p.exited;
  }

  /** GET http://127.0.0.1:10256<path> inside the node; status 0 when nothing answers. */
  async http(node: FaultNode, path: string): Promise<HttpAnswer> {
    const args = ['netns', 'exec', node.ns.name, 'curl', '-s', '--max-time', '3', '-w', '\n%{http_code}', `http://127.0.0.1:${HEALTH_PORT}${path}`];
    const out = await new Promise<string | undefined>((resolve) => {
      execFile('ip', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve(err ? undefined : stdout));
    });
    if (out === undefined) return { status: 0, body: '' };
    const cut = out.lastIndexOf('\n');
    return { status: Number(out.slice(cut + 1).trim()), body: out.slice(0, cut) };
  }

  /** Waits until /readyz answers 200, failing at once (with the log) when flanneld exits. */
  async waitReady(node: FaultNode, timeoutMs = 60_000): Promise<void> {
    const p = node.proc;
    if (!p) throw new Error(`flanneld on ${node.name} was never started`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!running(p)) throw new Error(`flanneld on ${node.name} exited (${p.child.exitCode ?? p.child.signalCode}) before it was ready; output:\n${p.output()}`);
      if ((await this.http(node, '/readyz')).status === 200) return;
      if (Date.now() > deadline) throw new Error(`flanneld on ${node.name} not ready (/readyz 200) after ${timeoutMs} ms; last output:\n${p.lines.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Adds `count` nodes, starts flanneld on each, waits for all to be ready. */
  async addReadyNodes(count: number, extra: string[] = []): Promise<FaultNode[]> {
    const added = Array.from({ length: count }, () => this.addNode());
    for (const n of added) this.start(n, extra);
    await Promise.all(added.map((n) => this.waitReady(n)));
    return added;
  }

  /**
   * A hand-made pod on the node's subnet, with a TCP echo server: a veth on bridge `bridge`
   * (default cni0, the bridge the shipped CNI conflist creates) holding the subnet's first address.
   */
  addPod(node: FaultNode, bridge = 'cni0'): TestPod {
    const env = parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile);
    const subnet = env.subnet as Cidr;
    const gw = subnet.firstHost.toString();
    const ns = node.ns;
    if (!hasLink(ns, bridge)) {
      ns.exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
      ns.exec('ip', ['addr', 'add', `${gw}/${subnet.prefix}`, 'dev', bridge]);
      ns.exec('ip', ['link', 'set', bridge, 'mtu', String(env.mtu), 'up']);
    }
    const podNs = Netns.create(`${ns.name}-p1`);
    const ip = subnet.ip.add(2).toString();
    ns.exec('ip', ['link', 'add', 'pv1', 'mtu', String(env.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs.name]);
    ns.exec('ip', ['link', 'set', 'pv1', 'master', bridge, 'up']);
    podNs.exec('ip', ['link', 'set', 'eth0', 'mtu', String(env.mtu), 'up']);
    podNs.exec('ip', ['addr', 'add', `${ip}/${subnet.prefix}`, 'dev', 'eth0']);
    podNs.exec('ip', ['route', 'add', 'default', 'via', gw]);
    const pod: TestPod = { ns: podNs, ip };
    startEchoServer(pod);
    node.pod = pod;
    return pod;
  }

  podOf(node: FaultNode): TestPod {
    if (!node.pod) throw new Error(`${node.name} has no pod`);
    return node.pod;
  }

  subnet(node: FaultNode): Cidr {
    return parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile).subnet as Cidr;
  }

  leaseKey(subnet: Cidr): string {
    return `${this.etcdPrefix}/subnets/${subnet.ip}-${subnet.prefix}`;
  }

  async leaseKeys(): Promise<string[]> {
    return (await this.ctl(['get', '--prefix', '--keys-only', `${this.etcdPrefix}/subnets/`])).split('\n').filter(Boolean).sort();
  }

  /** The lease's value, undefined when the key is absent. */
  async leaseValue(key: string): Promise<string | undefined> {
    const out = (await this.ctl(['get', '--print-value-only', key])).trim();
    return out === '' ? undefined : out;
  }

  /** The etcd lease (TTL) the key hangs on, as etcdctl wants it (hex); undefined for none. */
  async etcdLeaseOf(key: string): Promise<string | undefined> {
    // etcd lease ids are int64: read the digits, JSON numbers would lose precision beyond 2^53.
    // etcdctl prints them as 16 hex digits (%016x), leading zeros included.
    const raw = /"lease":\s*(\d+)/.exec(await this.ctl(['get', '-w', 'json', key]))?.[1];
    if (raw === undefined || raw === '0') return undefined;
    return BigInt(raw).toString(16).padStart(16, '0');
  }

  vtepMac(node: FaultNode): string {
    const [link] = node.ns.ipJson<IpJson>(['link', 'show', 'flannel.1']);
    return String(link?.address);
  }

  routes(node: FaultNode): IpJson {
    return node.ns.ipJson<IpJson>(['route', 'show']);
  }

  routeTo(node: FaultNode, dst: Cidr): Record<string, unknown> | undefined {
    return this.routes(node).find((r) => r.dst === dst.toString());
  }

  neighbours(node: FaultNode): IpJson {
    if (!hasLink(node.ns, 'flannel.1')) return [];
    return node.ns.ipJson<IpJson>(['neigh', 'show', 'dev', 'flannel.1']);
  }

  fdb(node: FaultNode): IpJson {
    if (!hasLink(node.ns, 'flannel.1')) return [];
    return JSON.parse(node.ns.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as IpJson;
  }

  /** Every other node routes to `peer`'s subnet (and, for vxlan, has its neighbour and FDB entry). */
  routesTo(node: FaultNode, peer: FaultNode, vxlan = true): boolean {
    const s = this.subnet(peer);
    if (!this.routeTo(node, s)) return false;
    if (!vxlan) return true;
    const mac = this.vtepMac(peer);
    return this.neighbours(node).some((e) => e.dst === s.ip.toString() && e.lladdr === mac) && this.fdb(node).some((e) => e.mac === mac && e.dst === peer.underlayIP);
  }
}

export function running(p: FlanneldProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

export function hasLink(ns: Netns, name: string): boolean {
  return ns.ipJson<IpJson>(['link', 'show']).some((l) => l.ifname === name);
}

/** What flanneld may have left in a node's kernel: devices, iptables chains, nft tables. */
export function flannelKernelState(ns: Netns): string[] {
  const found: string[] = [];
  for (const l of ns.ipJson<IpJson>(['link', 'show'])) {
    if (/^flannel/.test(String(l.ifname))) found.push(`link ${String(l.ifname)}`);
  }
  for (const table of ['nat', 'filter', 'mangle']) {
    for (const line of ns.exec('iptables-save', ['-t', table]).split('\n')) {
      if (/FLANNEL|flanneld/.test(line)) found.push(`iptables ${table}: ${line}`);
    }
  }
  for (const line of ns.exec('nft', ['list', 'tables']).split('\n')) {
    if (/flannel/.test(line)) found.push(`nft: ${line.trim()}`);
  }
  for (const r of ns.ipJson<IpJson>(['route', 'show'])) {
    if (String(r.dev ?? '').startsWith('flannel')) found.push(`route ${JSON.stringify(r)}`);
  }
  return found;
}

/**
 * `ping -i 0.1` from a pod until stopped; stop() sends SIGINT and parses ping's summary.
 */
export interface Pinger {
  stop(): Promise<PingResult>;
}

export interface PingResult {
  transmitted: number;
  received: number;
  lost: number;
  output: string;
}

export function startPinger(from: TestPod, toIp: string): Pinger {
  const child = from.ns.spawn('ping', ['-n', '-i', '0.1', '-W', '2', toIp]);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    async stop() {
      // Let the last replies (up to -W 2 s in flight) arrive before asking for the summary.
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(t);
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      if (!m) throw new Error(`no ping summary in:\n${out.slice(-2000)}`);
      const transmitted = Number(m[1]);
      const received = Number(m[2]);
      return { transmitted, received, lost: transmitted - received, output: out };
    },
  };
}

/** Runs `fn`, printing how long it took as a TAP diagnostic (the suite's timings). */
export async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    console.log(`# fault-timing ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** The log lines of a flanneld matching `re`. */
export function linesMatching(p: FlanneldProcess, re: RegExp): string[] {
  return p.lines.filter((l) => re.test(l));
}
