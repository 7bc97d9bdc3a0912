/**
 * @module lab/faults
 * The faults `lab break` injects and `lab heal` removes, so a learner can practise the seeds'
 * troubleshooting on a lab: each names the doctor checks that must fail while it is in, and acts
 * only inside the lab (the node's namespace, its /run, its state directory, its flanneld).
 * What was injected, with what heal needs to put back exactly what was there, is recorded in
 * <node dir>/faults.json: breaking twice changes nothing, `lab heal` alone heals everything.
 */
import { existsSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { Cidr } from '../ip/index.ts';
import { parseSubnetEnv, type SubnetEnv } from '../subnetenv/index.ts';
import { ETCD_PREFIX, nodeMachine, processExited, type Cluster, type LabNode } from './cluster.ts';
import { FLANNEL_CONFLIST_NAME, nodeCniDirs, systemPlugin } from './lab-pods.ts';
import type { Machine } from './netns.ts';

/** What a fault acts on. */
export interface FaultContext {
  readonly cluster: Cluster;
  readonly node: LabNode;
  /** Runs commands on the node: its namespace, its /run (so its xtables lock). */
  readonly machine: Machine;
  readonly netconf: LabNetconf;
  /** The faults in place on the node once this break or heal is done (flanneld's restarts follow them). */
  readonly inPlace: ReadonlySet<string>;
  readonly progress: (msg: string) => void;
}

const LabNetconfSchema = z.looseObject({
  Network: z.string(),
  EnableNFTables: z.boolean().optional(),
  Backend: z.looseObject({ Type: z.string(), Port: z.number().optional(), ListenPort: z.number().optional() }),
});
export type LabNetconf = z.infer<typeof LabNetconfSchema>;

export interface Fault {
  readonly id: string;
  /** One line: what it does, in the words of the problem it imitates. */
  readonly explanation: string;
  /** Where the problem comes from: "seed 000 §6", "field #11". */
  readonly seed: string;
  /** The doctor check ids that must fail on the node while it is in. */
  readonly checks: readonly string[];
  /** Why it cannot be injected on this lab (a backend without the thing), or undefined. */
  unavailable?(ctx: FaultContext): string | undefined;
  /** Injects it; returns what heal needs (JSON). */
  inject(ctx: FaultContext): Promise<unknown>;
  /** Puts back what inject found, from what it returned. */
  heal(ctx: FaultContext, saved: unknown): Promise<void>;
}

interface FaultSpec<S> extends Omit<Fault, 'inject' | 'heal'> {
  readonly saved: z.ZodType<S>;
  inject(ctx: FaultContext): Promise<S>;
  heal(ctx: FaultContext, saved: S): Promise<void>;
}

function defineFault<S>(spec: FaultSpec<S>): Fault {
  const { saved, inject, heal, ...rest } = spec;
  return { ...rest, inject, heal: (ctx, raw) => heal(ctx, saved.parse(raw)) };
}

// ---- helpers acting on the node --------------------------------------------------------------

function run(ctx: FaultContext, cmd: string, args: readonly string[]): string {
  return ctx.machine.exec(cmd, args);
}

function succeeds(ctx: FaultContext, cmd: string, args: readonly string[]): boolean {
  try {
    ctx.machine.exec(cmd, args);
    return true;
  } catch {
    return false;
  }
}

const iptables = (ctx: FaultContext, args: readonly string[]): string => run(ctx, 'iptables', ['-w', '10', ...args]);
const iptablesOk = (ctx: FaultContext, args: readonly string[]): boolean => succeeds(ctx, 'iptables', ['-w', '10', ...args]);

function subnetEnvOf(node: LabNode): SubnetEnv {
  if (!existsSync(node.subnetFile)) throw new Error(`${node.name} has no subnet.env (${node.subnetFile}): is its flanneld up?`);
  return parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile);
}

function linkMtu(ctx: FaultContext, dev: string): number | undefined {
  try {
    return ctx.machine.ns.ipJson<Array<{ mtu?: number }>>(['link', 'show', dev])[0]?.mtu;
  } catch {
    return undefined;
  }
}

function needCni0(ctx: FaultContext): string | undefined {
  return linkMtu(ctx, 'cni0') === undefined ? `${ctx.node.name} has no cni0 yet (the bridge plugin makes it for the first pod): build the lab with --pods 1 or more` : undefined;
}

/** The subnets of Network that leases hold, from etcd. */
function leasedSubnets(ctx: FaultContext): Cidr[] {
  const keys = ctx.cluster.etcdctl(['get', '--prefix', '--keys-only', `${ETCD_PREFIX}/subnets`]);
  return keys
    .split('\n')
    .map((k) => /\/subnets\/([\d.]+)-(\d+)$/.exec(k.trim()))
    .flatMap((m) => (m ? [Cidr.parse(`${m[1]}/${m[2]}`)] : []));
}

/** The `nth` subnet of Network, counted from its end, that no lease holds (a place nobody uses). */
function freeSubnet(ctx: FaultContext, nth: number): Cidr {
  const network = Cidr.parse(ctx.netconf.Network);
  const prefix = subnetEnvOf(ctx.node).subnet?.prefix ?? 24;
  const leased = leasedSubnets(ctx);
  const count = 1n << BigInt(prefix - network.prefix);
  let seen = 0;
  for (let i = count - 1n; i >= 0n; i--) {
    const s = network.subnetAt(prefix, i);
    if (leased.some((l) => l.overlaps(s))) continue;
    if (seen++ === nth) return s;
  }
  throw new Error(`no free /${prefix} left in ${network.toString()}`);
}

const hostAddress = (s: Cidr): string => `${s.firstHost.toString()}/${s.prefix}`;

/** The backend's UDP port between nodes, or undefined when it sends no UDP of its own. */
export function backendUdpPort(netconf: LabNetconf): number | undefined {
  const b = netconf.Backend;
  if (b.Type === 'vxlan') return b.Port ?? 8472;
  if (b.Type === 'udp') return b.Port ?? 8285;
  if (b.Type === 'wireguard') return b.ListenPort ?? 51820;
  return undefined;
}

// ---- flanneld, following the faults in place -------------------------------------------------

const FLANNELD_DOWN = ['flanneld-stopped', 'peer-route-missing'];

async function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  if (!(await processExited(pid, timeoutMs))) throw new Error(`flanneld (pid ${pid}) did not exit within ${timeoutMs} ms`);
}

/** SIGKILL: flanneld cleans nothing up, its lease stays until it expires (a crash, an OOM kill). */
async function killFlanneld(ctx: FaultContext): Promise<void> {
  const pid = ctx.cluster.flanneldPid(ctx.node);
  if (pid === undefined) return;
  ctx.progress(`killing flanneld on ${ctx.node.name} (pid ${pid}, SIGKILL)`);
  process.kill(pid, 'SIGKILL');
  await waitGone(pid);
}

/**
 * Starts the node's flanneld unless a fault in place wants it down, with --iptables-forward-rules=false
 * while forward-drop is in; waits until it is ready.
 */
async function startFlanneld(ctx: FaultContext): Promise<void> {
  const { cluster, node } = ctx;
  if (FLANNELD_DOWN.some((f) => ctx.inPlace.has(f)) || cluster.flanneldPid(node) !== undefined) return;
  const extra = ctx.inPlace.has('forward-drop') ? ['--iptables-forward-rules=false'] : [];
  ctx.progress(`starting flanneld on ${node.name}${extra.length ? ` with ${extra.join(' ')}` : ''}`);
  await cluster.startFlanneld(node, extra);
  await cluster.waitReady(node);
}

async function restartFlanneld(ctx: FaultContext, between: () => void): Promise<void> {
  ctx.progress(`stopping flanneld on ${ctx.node.name}`);
  await ctx.cluster.stopFlanneld(ctx.node);
  between();
  await startFlanneld(ctx);
}

async function waitFor(what: string, test: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- the catalogue ---------------------------------------------------------------------------

const udpBlocked = defineFault({
  id: 'udp-blocked',
  explanation: "an INPUT rule drops the backend's UDP port (vxlan 8472, udp 8285, wireguard 51820): packets from the peers never reach the tunnel",
  seed: 'seed 000 §6, seed 001 §2',
  checks: ['firewall.input-port'],
  saved: z.object({ port: z.number() }),
  unavailable: (ctx) => (backendUdpPort(ctx.netconf) === undefined ? `backend ${ctx.netconf.Backend.Type} sends no UDP between nodes` : undefined),
  async inject(ctx) {
    const port = backendUdpPort(ctx.netconf) ?? 8472;
    const rule = ['INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP'];
    if (!iptablesOk(ctx, ['-C', ...rule])) iptables(ctx, ['-I', ...rule]);
    return { port };
  },
  async heal(ctx, { port }) {
    const rule = ['INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP'];
    while (iptablesOk(ctx, ['-C', ...rule])) iptables(ctx, ['-D', ...rule]);
  },
});

const ipForwardOff = defineFault({
  id: 'ip-forward-off',
  explanation: 'net.ipv4.ip_forward = 0 on the node: it drops every pod packet it should route between cni0 and the tunnel',
  seed: 'seed 001 §5',
  checks: ['sysctl.ip-forward'],
  saved: z.object({ value: z.string() }),
  async inject(ctx) {
    const value = run(ctx, 'sysctl', ['-n', 'net.ipv4.ip_forward']).trim();
    run(ctx, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    return { value };
  },
  async heal(ctx, { value }) {
    run(ctx, 'sysctl', ['-qw', `net.ipv4.ip_forward=${value}`]);
  },
});

const forwardDrop = defineFault({
  id: 'forward-drop',
  explanation: "the FORWARD policy is DROP (what Docker sets) and flanneld runs with --iptables-forward-rules=false, so nothing accepts the pod network's traffic",
  seed: 'seed 002 (Docker and the FORWARD chain)',
  checks: ['firewall.forward'],
  saved: z.object({ policy: z.string() }),
  async inject(ctx) {
    const policy = /^-P FORWARD (\S+)/m.exec(iptables(ctx, ['-S', 'FORWARD']))?.[1] ?? 'ACCEPT';
    await restartFlanneld(ctx, () => {
      // What the running flanneld had put in: the jump to FLANNEL-FWD and its rules (iptables), or its forward chain (nftables).
      const jumps = iptables(ctx, ['-L', 'FORWARD', '-n', '--line-numbers']).split('\n').filter((l) => /^\d+\s+FLANNEL-FWD\s/.test(l));
      for (const n of jumps.map((l) => l.split(/\s+/)[0] ?? '').reverse()) iptables(ctx, ['-D', 'FORWARD', n]);
      iptablesOk(ctx, ['-F', 'FLANNEL-FWD']);
      iptablesOk(ctx, ['-X', 'FLANNEL-FWD']);
      succeeds(ctx, 'nft', ['flush', 'chain', 'ip', 'flannel-ipv4', 'forward']);
      iptables(ctx, ['-P', 'FORWARD', 'DROP']);
    });
    return { policy };
  },
  async heal(ctx, { policy }) {
    await restartFlanneld(ctx, () => iptables(ctx, ['-P', 'FORWARD', policy]));
  },
});

/** The route flanneld keeps to `peer`'s subnet on the node, read from the kernel. */
interface PeerRoute {
  dst: string;
  gateway?: string;
  dev: string;
}

const peerRouteMissing = defineFault({
  id: 'peer-route-missing',
  explanation: "flanneld is killed (nothing repairs), then the route to one peer's subnet is deleted, with its FDB and neighbour entries on vxlan: this node cannot reach that peer's pods",
  seed: 'seed 002 (advanced: one node cannot reach one peer)',
  checks: ['dataplane.peers', 'flanneld.process', 'flanneld.health'],
  saved: z.object({ peer: z.string(), subnet: z.string() }),
  unavailable: (ctx) => (ctx.cluster.nodes.length < 2 ? 'the lab has one node: there is no peer' : ['udp', 'wireguard'].includes(ctx.netconf.Backend.Type) ? `backend ${ctx.netconf.Backend.Type} keeps no route per peer (one route for the whole network)` : undefined),
  async inject(ctx) {
    const peer = ctx.cluster.nodes.find((n) => n !== ctx.node && existsSync(n.subnetFile));
    const subnet = peer && subnetEnvOf(peer).subnet?.toString();
    if (!peer || !subnet) throw new Error(`no peer of ${ctx.node.name} has a subnet yet`);
    const routes = ctx.machine.ns.ipJson<PeerRoute[]>(['route', 'show', 'exact', subnet]);
    await killFlanneld(ctx);
    for (const r of routes) {
      run(ctx, 'ip', ['route', 'del', subnet, 'dev', r.dev]);
      if (!r.dev.startsWith('flannel.')) continue;
      if (r.gateway) succeeds(ctx, 'ip', ['neigh', 'del', r.gateway, 'dev', r.dev]);
      const fdb = JSON.parse(run(ctx, 'bridge', ['-j', 'fdb', 'show', 'dev', r.dev]).trim() || '[]') as Array<{ mac: string; dst?: string }>;
      for (const e of fdb.filter((x) => x.dst === peer.underlayIP)) succeeds(ctx, 'bridge', ['fdb', 'del', e.mac, 'dev', r.dev, 'dst', peer.underlayIP]);
    }
    return { peer: peer.name, subnet };
  },
  async heal(ctx, { subnet }) {
    // flanneld puts back the route, neighbour and FDB entries of every lease when it starts.
    await startFlanneld(ctx);
    if (!FLANNELD_DOWN.some((f) => ctx.inPlace.has(f))) {
      await waitFor(`${ctx.node.name}: the route to ${subnet} back`, () => ctx.machine.ns.ipJson<PeerRoute[]>(['route', 'show', 'exact', subnet]).length > 0);
    }
  },
});

const flanneldStopped = defineFault({
  id: 'flanneld-stopped',
  explanation: 'flanneld is killed and stays down: its lease is left to expire, new pods get no network, peers keep stale routes to it',
  seed: 'seed 000 §6',
  checks: ['flanneld.process', 'flanneld.health'],
  saved: z.object({}),
  async inject(ctx) {
    await killFlanneld(ctx);
    return {};
  },
  async heal(ctx) {
    await startFlanneld(ctx);
  },
});

const mtuCni0 = defineFault({
  id: 'mtu-cni0',
  explanation: "cni0's MTU is set above the overlay's (1500 over vxlan's 1450): pods send packets the tunnel cannot carry, large transfers stall",
  seed: 'seed 001 §5',
  checks: ['mtu.pods'],
  saved: z.object({ mtu: z.number() }),
  unavailable: needCni0,
  async inject(ctx) {
    const mtu = linkMtu(ctx, 'cni0') ?? 1500;
    const overlay = subnetEnvOf(ctx.node).mtu;
    const underlay = linkMtu(ctx, 'eth0') ?? 1500;
    run(ctx, 'ip', ['link', 'set', 'cni0', 'mtu', String(overlay < underlay ? underlay : overlay + 500)]);
    return { mtu };
  },
  async heal(ctx, { mtu }) {
    run(ctx, 'ip', ['link', 'set', 'cni0', 'mtu', String(mtu)]);
  },
});

const cni0StaleAddress = defineFault({
  id: 'cni0-stale-address',
  explanation: 'cni0 carries an address outside FLANNEL_SUBNET, as after a node re-joins with a new subnet: the bridge plugin fails with "cni0 already has an IP address different from ..."',
  seed: 'field problem #11 (ff#1850)',
  checks: ['cni.bridge-address'],
  saved: z.object({ address: z.string() }),
  unavailable: needCni0,
  async inject(ctx) {
    const address = hostAddress(freeSubnet(ctx, 0));
    if (!run(ctx, 'ip', ['addr', 'show', 'dev', 'cni0', 'to', address]).trim()) run(ctx, 'ip', ['addr', 'add', address, 'dev', 'cni0']);
    return { address };
  },
  async heal(ctx, { address }) {
    succeeds(ctx, 'ip', ['addr', 'del', address, 'dev', 'cni0']);
  },
});

const cniPluginMissing = defineFault({
  id: 'cni-plugin-missing',
  explanation: "the bridge plugin is missing from the node's CNI bin dir (the manifest does not install it): every pod creation fails",
  seed: 'field problem: plugins not installed (ff#1847, ff#2301)',
  checks: ['cni.plugins'],
  saved: z.object({ target: z.string() }),
  async inject(ctx) {
    const path = join(nodeCniDirs(ctx.node).outside.binDir, 'bridge');
    let target = systemPlugin('bridge') ?? '/usr/lib/cni/bridge';
    try {
      target = readlinkSync(path);
    } catch {
      /* not a link (or already gone): put back the system's */
    }
    rmSync(path, { force: true });
    return { target };
  },
  async heal(ctx, { target }) {
    const path = join(nodeCniDirs(ctx.node).outside.binDir, 'bridge');
    if (!existsSync(path)) {
      rmSync(path, { force: true }); // a dangling link
      symlinkSync(target, path);
    }
  },
});

const STRAY_CONFLIST = '00-calico.conflist';
const CALICO_CONFLIST = {
  name: 'k8s-pod-network',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'calico', log_level: 'info', datastore_type: 'kubernetes', ipam: { type: 'calico-ipam' }, policy: { type: 'k8s' }, kubernetes: { kubeconfig: '/etc/cni/net.d/calico-kubeconfig' } },
    { type: 'portmap', snat: true, capabilities: { portMappings: true } },
  ],
};

const strayConflist = defineFault({
  id: 'stray-conflist',
  explanation: `a leftover Calico config (${STRAY_CONFLIST}) sorts before ${FLANNEL_CONFLIST_NAME} in the CNI conf dir: the runtime uses it, not flannel's`,
  seed: 'seed 000 (Flannel or Calico)',
  checks: ['cni.conflist'],
  saved: z.object({ previous: z.string().optional() }),
  async inject(ctx) {
    const path = join(nodeCniDirs(ctx.node).outside.confDir, STRAY_CONFLIST);
    const previous = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    writeFileSync(path, `${JSON.stringify(CALICO_CONFLIST, null, 2)}\n`);
    return previous === undefined ? {} : { previous };
  },
  async heal(ctx, { previous }) {
    const path = join(nodeCniDirs(ctx.node).outside.confDir, STRAY_CONFLIST);
    if (previous === undefined) rmSync(path, { force: true });
    else writeFileSync(path, previous);
  },
});

const networkOverlap = defineFault({
  id: 'network-overlap',
  explanation: "the node's eth0 gets a host LAN inside the cluster Network (as Calico's 192.168.0.0/16 over a 192.168.x home LAN): pod and host addresses collide",
  seed: 'seed 000 §1 and §6',
  checks: ['config.network-overlap'],
  saved: z.object({ address: z.string() }),
  async inject(ctx) {
    const address = hostAddress(freeSubnet(ctx, 5));
    if (!run(ctx, 'ip', ['addr', 'show', 'dev', 'eth0', 'to', address]).trim()) run(ctx, 'ip', ['addr', 'add', address, 'dev', 'eth0']);
    return { address };
  },
  async heal(ctx, { address }) {
    succeeds(ctx, 'ip', ['addr', 'del', address, 'dev', 'eth0']);
  },
});

export const FAULTS: readonly Fault[] = [udpBlocked, ipForwardOff, forwardDrop, peerRouteMissing, flanneldStopped, mtuCni0, cni0StaleAddress, cniPluginMissing, strayConflist, networkOverlap];

export function faultById(id: string): Fault | undefined {
  return FAULTS.find((f) => f.id === id);
}

/** `lab break --list`: one line per fault, with its seed and the checks that find it. */
export function renderFaultList(): string {
  const width = Math.max(...FAULTS.map((f) => f.id.length)) + 2;
  return FAULTS.map((f) => `  ${f.id.padEnd(width)}${f.explanation}\n  ${''.padEnd(width)}(from ${f.seed}; doctor fails: ${f.checks.join(', ')})`).join('\n');
}

// ---- what is injected, per node --------------------------------------------------------------

const InjectedSchema = z.object({ fault: z.string(), at: z.string(), saved: z.unknown() });
const FaultFileSchema = z.object({ injected: z.array(InjectedSchema) });
export type Injected = z.infer<typeof InjectedSchema>;

const faultFile = (node: LabNode): string => join(node.dir, 'faults.json');

export function injectedOn(node: LabNode): Injected[] {
  const path = faultFile(node);
  if (!existsSync(path)) return [];
  const parsed = FaultFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new ConfigError('E_LAB_FAULTS', `${path} is not a record of injected faults: ${parsed.error.message}`, { hint: 'fix or remove the file (lab down removes it with the lab)' });
  return parsed.data.injected;
}

function saveInjected(node: LabNode, injected: readonly Injected[]): void {
  const path = faultFile(node);
  if (injected.length === 0) rmSync(path, { force: true });
  else writeFileSync(path, `${JSON.stringify({ injected }, null, 2)}\n`);
}

function contextFor(cluster: Cluster, node: LabNode, inPlace: ReadonlySet<string>, progress: (msg: string) => void): FaultContext {
  return { cluster, node, machine: nodeMachine(node), netconf: LabNetconfSchema.parse(cluster.spec.netconf), inPlace, progress };
}

/** Injects `fault` on `node`; 'already' when it is in (nothing changes). */
export async function breakFault(cluster: Cluster, node: LabNode, fault: Fault, progress: (msg: string) => void = () => undefined): Promise<'injected' | 'already'> {
  const injected = injectedOn(node);
  if (injected.some((i) => i.fault === fault.id)) return 'already';
  const ctx = contextFor(cluster, node, new Set([...injected.map((i) => i.fault), fault.id]), progress);
  const why = fault.unavailable?.(ctx);
  if (why) throw new ConfigError('E_LAB_FAULT', `cannot inject ${fault.id} on ${node.name}: ${why}`, { hint: 'see "lab break --list" for the other faults' });
  const saved = await fault.inject(ctx);
  saveInjected(node, [...injected, { fault: fault.id, at: new Date().toISOString(), saved }]);
  return 'injected';
}

/** Heals `fault` on `node` (every fault injected there when none is named, newest first); returns what it healed. */
export async function healFaults(cluster: Cluster, node: LabNode, fault?: Fault, progress: (msg: string) => void = () => undefined): Promise<string[]> {
  const healed: string[] = [];
  let injected = injectedOn(node);
  for (const entry of [...injected].reverse()) {
    if (fault && entry.fault !== fault.id) continue;
    const spec = faultById(entry.fault);
    const rest = injected.filter((i) => i !== entry);
    if (spec) await spec.heal(contextFor(cluster, node, new Set(rest.map((i) => i.fault)), progress), entry.saved);
    injected = rest;
    saveInjected(node, injected);
    healed.push(entry.fault);
  }
  return healed;
}
