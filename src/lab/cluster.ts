/**
 * @module lab/cluster
 * A flannel cluster in network namespaces on one machine:
 *   <prefix>-sw   the "switch": bridge br0 (192.168.50.1/24, the underlay gateway)
 *   <prefix>-cp   the control plane: etcd on 192.168.50.2:2379
 *   <prefix>-nN   node N: eth0 = 192.168.50.(10+N)/24, default route via the switch, flanneld
 * A node is a machine of its own (Machine): its processes see <stateDir>/nodeN/run as /run, so
 * flanneld writes /run/flannel/subnet.env (and /run/flannel/wgkey, /var/run/wireguard/...) per node.
 * Processes are detached (they outlive `lab up`); everything is recorded in <stateDir>/lab.json
 * so `down` cleans up even after a crash. The root namespace is never changed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cidr, subnetKey } from '../ip/index.ts';
import { startLabEtcd, labEtcdctl } from './etcd.ts';
import { runIn, secondsSince } from './fanout.ts';
import { launch } from './spawner.ts';
import { Machine, Netns, attachToSwitch, createSwitch, killProcessesIn, removeNamespaces, sh } from './netns.ts';

export const UNDERLAY = { prefix: 24, gateway: '192.168.50.1', etcd: '192.168.50.2', node: (i: number) => `192.168.50.${10 + i}` };
export const ETCD_PREFIX = '/coreos.com/network';
/**
 * The underlay's MAC addresses are fixed (02:fa: then the IPv4 address), so every machine on it can
 * be given its neighbours as permanent entries: the kernel's ARP table is one for all network
 * namespaces (gc_thresh3, 1024 entries by default, a root-namespace setting the lab must not
 * touch), and a 100-node full mesh would need ~10,000 learned entries; permanent ones do not count.
 */
export function underlayMac(ip: string): string {
  return `02:fa:${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`;
}

/** The highest node number the underlay has an address for (192.168.50.(10+N), below the broadcast). */
export const MAX_NODE_INDEX = 244;

export interface ClusterSpec {
  prefix: string;
  nodes: number;
  netconf: Record<string, unknown>;
  ipMasq: boolean;
  stateDir: string;
  /** Use an existing etcd instead of starting one (it must be reachable from the node namespaces). */
  etcdEndpoints?: string[];
  extraFlanneldArgs?: string[];
  /** Nodes taken out with removeNode: their numbers are never given again, so names stay unique. */
  removed?: number[];
  progress?: (msg: string) => void;
}

export interface LabNode {
  readonly index: number;
  readonly name: string;
  readonly ns: string;
  readonly underlayIP: string;
  readonly dir: string;
  /** The node's /run, seen from outside. */
  readonly runDir: string;
  /** Its /run/flannel/subnet.env, seen from outside. */
  readonly subnetFile: string;
  readonly logFile: string;
}

/** The node's own /run path flanneld writes its subnet.env to (upstream's default). */
export const NODE_SUBNET_FILE = '/run/flannel/subnet.env';
/** Set in flanneld's environment: the lab it belongs to (how `findStateDir` finds a lab's state). */
const LAB_ENV = 'FLANNEL_TS_LAB_STATE_DIR';

/**
 * FLANNEL_SUBNET of the node's subnet.env as flanneld wrote it (cni0's address with the subnet's
 * prefix, e.g. 10.244.3.1/24), or undefined before it did.
 */
export function nodeSubnet(node: LabNode): string | undefined {
  try {
    return /^FLANNEL_SUBNET=(\S+)$/m.exec(readFileSync(node.subnetFile, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Runs commands on a lab node: in its network namespace with its own /run. */
export function nodeMachine(node: LabNode): Machine {
  return new Machine(node.ns, node.runDir);
}

interface State {
  spec: Omit<ClusterSpec, 'progress'>;
  etcdEndpoints: string[];
  namespaces: string[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

/** How to start one of our programs in a child process, from source (tsx) or from dist. */
/** Waits until `pid` no longer exists; false when it still does after `timeoutMs`. */
export async function processExited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export function programArgv(name: 'flanneld' | 'flannel-ts'): string[] {
  return RUNNING_FROM_SOURCE ? [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli', `${name}.ts`)] : [process.execPath, join(ROOT, 'dist/cli', `${name}.js`)];
}

export class Cluster {
  readonly spec: ClusterSpec;
  readonly nodes: LabNode[];
  readonly etcdEndpoints: string[];
  readonly switchNs: string;
  readonly controlNs: string;

  private constructor(spec: ClusterSpec, etcdEndpoints: string[]) {
    this.spec = spec;
    this.etcdEndpoints = etcdEndpoints;
    this.switchNs = `${spec.prefix}-sw`;
    this.controlNs = `${spec.prefix}-cp`;
    this.nodes = Array.from({ length: spec.nodes }, (_, k) => this.nodeAt(k + 1)).filter((n) => !spec.removed?.includes(n.index));
  }

  private nodeAt(index: number): LabNode {
    const dir = join(this.spec.stateDir, `node${index}`);
    const runDir = join(dir, 'run');
    return { index, name: `node${index}`, ns: `${this.spec.prefix}-n${index}`, underlayIP: UNDERLAY.node(index), dir, runDir, subnetFile: join(runDir, 'flannel', 'subnet.env'), logFile: join(dir, 'flanneld.log') };
  }

  private progress(msg: string): void {
    this.spec.progress?.(msg);
  }

  /** Re-attaches to a cluster created earlier (by another process) from its state file. */
  static load(stateDir: string): Cluster {
    const path = join(stateDir, 'lab.json');
    if (!existsSync(path)) throw new Error(`no lab found in ${stateDir} (run "flannel-ts lab up" first)`);
    const state = JSON.parse(readFileSync(path, 'utf8')) as State;
    return new Cluster(state.spec, state.etcdEndpoints);
  }

  /** Builds the topology, starts etcd (unless external), writes the network config, starts every flanneld. */
  static async up(spec: ClusterSpec): Promise<Cluster> {
    mkdirSync(spec.stateDir, { recursive: true });
    const internal = !spec.etcdEndpoints;
    const cluster = new Cluster(spec, spec.etcdEndpoints ?? [`http://${UNDERLAY.etcd}:2379`]);
    cluster.saveState();
    cluster.progress(`creating switch ${cluster.switchNs} with bridge br0 (${UNDERLAY.gateway}/${UNDERLAY.prefix})`);
    const sw = createSwitch(cluster.switchNs);
    sw.exec('ip', ['link', 'set', 'br0', 'address', underlayMac(UNDERLAY.gateway)]);
    sw.exec('ip', ['addr', 'add', `${UNDERLAY.gateway}/${UNDERLAY.prefix}`, 'dev', 'br0']);
    cluster.saveState();
    if (internal) {
      cluster.progress(`starting etcd in ${cluster.controlNs} at ${UNDERLAY.etcd}:2379`);
      const cp = Netns.create(cluster.controlNs);
      cluster.saveState();
      attachToSwitch({ switchNs: sw, bridge: 'br0', ns: cp, ifname: 'eth0', cidr: `${UNDERLAY.etcd}/${UNDERLAY.prefix}`, peerName: 'v-cp', mac: underlayMac(UNDERLAY.etcd) });
      await startLabEtcd({ ns: cp.name, ip: UNDERLAY.etcd, stateDir: spec.stateDir });
    }
    cluster.createMachines(cluster.nodes);
    cluster.pinNeighbours(cluster.nodes);
    cluster.progress(`writing the network config to ${ETCD_PREFIX}/config: ${JSON.stringify(spec.netconf)}`);
    cluster.etcdctl(['put', `${ETCD_PREFIX}/config`, JSON.stringify(spec.netconf)]);
    cluster.progress(`starting flanneld on ${cluster.nodes.length} node${cluster.nodes.length === 1 ? '' : 's'}`);
    await Promise.all(cluster.nodes.map((node) => cluster.startFlanneld(node)));
    await cluster.waitAllReady(cluster.nodes);
    return cluster;
  }

  /**
   * Plugs `nodes` into the switch in a few batched `ip` runs (one for the namespaces, one for the
   * switch's ports, one per node for its eth0, route and sysctls), not ten commands per node.
   */
  private createMachines(nodes: readonly LabNode[]): void {
    const [first, last] = [nodes[0], nodes.at(-1)];
    if (!first || !last) return;
    this.progress(first === last ? `creating ${first.name} (${first.ns}) at ${first.underlayIP}` : `creating ${nodes.length} nodes (${first.ns} ... ${last.ns}) at ${first.underlayIP} ... ${last.underlayIP}`);
    for (const node of nodes) mkdirSync(node.dir, { recursive: true });
    // Recorded before they exist, so lab down finds them whatever happens next.
    this.saveState();
    sh('ip', ['-batch', '-'], nodes.map((n) => `netns add ${n.ns}\n`).join(''));
    sh('ip', ['-n', this.switchNs, '-batch', '-'], nodes.map((n) => `link add v-n${n.index} type veth peer name eth0 netns ${n.ns}\nlink set v-n${n.index} master br0 up\n`).join(''));
    for (const node of nodes) {
      sh('ip', ['-n', node.ns, '-batch', '-'], `link set lo up\nlink set eth0 address ${underlayMac(node.underlayIP)}\naddr add ${node.underlayIP}/${UNDERLAY.prefix} dev eth0\nlink set eth0 up\nroute add default via ${UNDERLAY.gateway} dev eth0\n`);
      new Netns(node.ns).exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    }
  }

  /**
   * Gives every machine on the underlay its neighbours as permanent ARP entries (see underlayMac):
   * the switch and etcd know every node, each node knows the gateway, etcd and every other node.
   * `joining` are the nodes just plugged in: they learn everyone, everyone learns them.
   */
  pinNeighbours(joining: readonly LabNode[]): void {
    const entry = (ip: string, dev: string): string => `neigh replace ${ip} lladdr ${underlayMac(ip)} dev ${dev} nud permanent\n`;
    const infra = [UNDERLAY.gateway, ...(this.spec.etcdEndpoints ? [] : [UNDERLAY.etcd])];
    const batch = (ns: string, lines: string): void => void (lines && sh('ip', ['-n', ns, '-batch', '-'], lines));
    batch(this.switchNs, joining.map((n) => entry(n.underlayIP, 'br0')).join(''));
    if (!this.spec.etcdEndpoints) batch(this.controlNs, joining.map((n) => entry(n.underlayIP, 'eth0')).join(''));
    for (const node of this.nodes) {
      const isNew = joining.includes(node);
      const learn = isNew ? [...infra, ...this.nodes.filter((n) => n !== node).map((n) => n.underlayIP)] : joining.map((n) => n.underlayIP);
      batch(node.ns, learn.map((ip) => entry(ip, 'eth0')).join(''));
    }
  }

  /** Waits until every node's flanneld is ready, saying how many are as they come (a big lab takes a while). */
  async waitAllReady(nodes: readonly LabNode[], timeoutMs = Math.max(30_000, nodes.length * 1_500)): Promise<void> {
    if (nodes.length <= 3) {
      await Promise.all(nodes.map((n) => this.waitReady(n, timeoutMs)));
      return;
    }
    let ready = 0;
    let said = 0;
    const step = Math.max(1, Math.round(nodes.length / 10));
    const since = Date.now();
    await Promise.all(
      nodes.map(async (n) => {
        await this.waitReady(n, timeoutMs, false);
        ready++;
        if (ready === nodes.length || ready - said >= step) {
          said = ready;
          this.progress(`flanneld ready on ${ready}/${nodes.length} nodes${ready === nodes.length ? ` (${secondsSince(since)})` : ''}`);
        }
      }),
    );
  }

  /**
   * A new machine joins the lab: the next node number, plugged into the switch, its flanneld
   * started and ready. On failure nothing of it stays (its namespace, flanneld, lease, state).
   */
  async addNode(): Promise<LabNode> {
    const index = this.spec.nodes + 1;
    if (index > MAX_NODE_INDEX) throw new Error(`the lab's underlay has addresses for node numbers up to ${MAX_NODE_INDEX}; this lab has used them all`);
    const node = this.nodeAt(index);
    this.spec.nodes = index;
    this.nodes.push(node);
    try {
      this.createMachines([node]);
      this.pinNeighbours([node]);
      await this.startFlanneld(node);
      await this.waitReady(node);
      return node;
    } catch (err) {
      await this.removeNode(node).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The machine leaves the lab, as a node deleted from a cluster: flanneld stopped, its namespace
   * gone, its lease deleted from etcd so the other nodes drop their routes to it. Its pods must
   * have been deleted first (their namespaces hang off the node's).
   */
  async removeNode(node: LabNode): Promise<void> {
    await this.stopFlanneld(node);
    const lease = this.leaseKeyOf(node);
    killProcessesIn(node.ns);
    new Netns(node.ns).delete();
    this.spec.removed = [...(this.spec.removed ?? []), node.index];
    this.nodes.splice(this.nodes.indexOf(node), 1);
    this.saveState();
    // After the node left the list: with an outside etcd, etcdctl runs from the first node there is.
    if (lease) this.etcdctl(['del', lease]);
    rmSync(node.dir, { recursive: true, force: true });
  }

  /** The etcd key of the lease the node's flanneld holds (from its subnet.env), if it wrote one. */
  private leaseKeyOf(node: LabNode): string | undefined {
    const subnet = nodeSubnet(node);
    return subnet ? `${ETCD_PREFIX}/subnets/${subnetKey({ v4: Cidr.parse(subnet) })}` : undefined;
  }

  private saveState(): void {
    const { progress: _p, ...spec } = this.spec;
    const namespaces = [this.switchNs, ...(this.spec.etcdEndpoints ? [] : [this.controlNs]), ...this.nodes.map((n) => n.ns)];
    const state: State = { spec, etcdEndpoints: this.etcdEndpoints, namespaces };
    writeFileSync(join(this.spec.stateDir, 'lab.json'), JSON.stringify(state, null, 2));
  }

  node(nameOrIndex: string | number): LabNode {
    const n = this.nodes.find((x) => x.name === nameOrIndex || x.index === nameOrIndex || x.ns === nameOrIndex);
    if (!n) throw new Error(`no node "${nameOrIndex}" in this lab (nodes: ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** etcdctl against the lab's etcd, run from the first node (which reaches it over the underlay). */
  etcdctl(args: string[]): string {
    const from = this.spec.etcdEndpoints ? (this.nodes[0]?.ns ?? this.controlNs) : this.controlNs;
    return labEtcdctl(from, this.etcdEndpoints.join(','), args);
  }

  /** The same for every node: each sees its own /run. */
  flanneldArgs(): string[] {
    return [
      `--etcd-endpoints=${this.etcdEndpoints.join(',')}`,
      `--etcd-prefix=${ETCD_PREFIX}`,
      '--iface=eth0',
      `--subnet-file=${NODE_SUBNET_FILE}`,
      `--ip-masq=${this.spec.ipMasq}`,
      '--healthz-ip=127.0.0.1',
      '--healthz-port=10256',
      // Fast repairs for the faults of small labs. In a big one every check is a fork of flanneld
      // and an iptables-save on each node: at upstream's 5 s, 100 idle nodes spent ~0.4 of a core
      // on it (issue 17), so a lab above 20 nodes repairs within 30 s instead.
      `--iptables-resync=${this.spec.nodes > 20 ? 30 : 2}`,
      '--log-format=text',
      ...(this.spec.extraFlanneldArgs ?? []),
    ];
  }

  /** How flanneld is started on `node` (with `argv` as the program, default ours): on the node's machine, marked as this lab's. */
  flanneldSpawn(node: LabNode, argv: readonly string[] = programArgv('flanneld'), extraArgs: readonly string[] = []): { command: string[]; env: NodeJS.ProcessEnv } {
    const [cmd = process.execPath, ...args] = argv;
    return { command: nodeMachine(node).argv(cmd, [...args, ...this.flanneldArgs(), ...extraArgs]), env: { ...process.env, [LAB_ENV]: this.spec.stateDir } };
  }

  /**
   * Starts flanneld on `node` in a session of its own, its output appended to the node's log, its
   * pid in flanneld.pid; through the lab's spawner (Node forking itself per node took ~0.4 s each
   * while a hundred flanneld were starting).
   */
  async startFlanneld(node: LabNode, extraArgs: readonly string[] = []): Promise<number> {
    const { command, env } = this.flanneldSpawn(node, undefined, extraArgs);
    const pid = await launch(command, { env, log: node.logFile, cwd: ROOT });
    writeFileSync(join(node.dir, 'flanneld.pid'), String(pid));
    return pid;
  }

  flanneldPid(node: LabNode): number | undefined {
    try {
      const pid = Number(readFileSync(join(node.dir, 'flanneld.pid'), 'utf8'));
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM and wait for the exit (the lease stays in etcd). */
  async stopFlanneld(node: LabNode, timeoutMs = 10_000): Promise<void> {
    const pid = this.flanneldPid(node);
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    if (!(await processExited(pid, timeoutMs))) process.kill(pid, 'SIGKILL');
  }

  logTail(node: LabNode, lines = 20): string {
    try {
      return readFileSync(node.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Waits until flanneld on `node` reports ready (/readyz 200), failing fast if it exits. It asks
   * only once subnet.env is written (a file check costs nothing; a curl in the namespace costs a
   * process), so a hundred nodes starting at once do not spend the CPU they need on being asked.
   */
  async waitReady(node: LabNode, timeoutMs = 30_000, sayEach = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; ; round++) {
      if (this.flanneldPid(node) === undefined) {
        throw new Error(`flanneld on ${node.name} exited during start-up; last log lines:\n${this.logTail(node)}`);
      }
      if (existsSync(node.subnetFile)) {
        const r = await runIn(node.ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', 'http://127.0.0.1:10256/readyz'], 10_000);
        if (r.stdout.trim() === '200') {
          if (sayEach) this.progress(`${node.name}: flanneld ready, FLANNEL_SUBNET=${nodeSubnet(node) ?? ''}`);
          return;
        }
      }
      if (Date.now() > deadline) throw new Error(`flanneld on ${node.name} not ready after ${timeoutMs} ms; last log lines:\n${this.logTail(node)}`);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(round, 3), 500)));
    }
  }

  /**
   * Removes every namespace, process and file of the lab. Safe to call twice, and after a crash.
   * The state directory goes only if it holds nothing but what a lab writes (so a mistyped
   * --state-dir never deletes someone's files); `log` hears when it is kept.
   */
  static down(prefix: string, stateDir: string, log?: (msg: string) => void): string[] {
    const removed = labNamespaces(prefix);
    removeNamespaces(removed);
    if (existsSync(stateDir)) {
      const foreign = foreignStateEntries(stateDir);
      if (foreign.length === 0) rmSync(stateDir, { recursive: true, force: true });
      else log?.(`kept ${stateDir}: it holds files a lab does not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`);
    }
    return removed;
  }

  /**
   * Where a running lab keeps its state, read from its processes (flanneld's environment, etcd's
   * --data-dir): for a lab built with another --state-dir than the one asked.
   */
  static findStateDir(prefix: string): string | undefined {
    for (const ns of labNamespaces(prefix)) {
      let pids: string[];
      try {
        pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
      } catch {
        continue;
      }
      for (const pid of pids) {
        let argv: string[];
        let env: string[];
        try {
          argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        } catch {
          continue;
        }
        const marked = env.find((e) => e.startsWith(`${LAB_ENV}=`))?.slice(LAB_ENV.length + 1);
        const dataDir = argv[argv.indexOf('--data-dir') + 1];
        const candidate = marked || (argv.includes('--data-dir') && dataDir ? dirname(dataDir) : undefined);
        if (candidate && existsSync(join(candidate, 'lab.json'))) return candidate;
      }
    }
    return undefined;
  }
}

/** What a lab writes into its state directory (Cluster, lab up, the CNI plugins of its pods). */
const LAB_STATE_ENTRY = /^(lab|up|pods|matrix)\.json$|^etcd(\.log)?$|^cni-bin$|^node\d+$/;

/** The entries of `dir` that no lab writes: a directory with any is not the lab's to delete. */
export function foreignStateEntries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((e) => !LAB_STATE_ENTRY.test(e));
  } catch {
    return [];
  }
}

/**
 * The namespaces of the lab `prefix`: <prefix>-sw, <prefix>-cp, <prefix>-nN and what hangs off a
 * node (<prefix>-nN-...: pods). Exact, so lab "a" never matches lab "a-b"'s namespaces.
 */
export function labNamespaces(prefix: string): string[] {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const mine = new RegExp(`^${escaped}-(sw|cp|n\\d+(-.+)?)$`);
  return sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => mine.test(n));
}

export { Netns };
