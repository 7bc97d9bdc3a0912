/**
 * @module lab/lab-command
 * `flannel-ts lab up|check|status|exec|path|doctor|break|heal|node|pod|ui|down`: a flannel cluster in network
 * namespaces on this machine, with pods created through the real CNI plugin, a pod-to-pod
 * connectivity matrix, doctor on every node, and faults to inject and heal for practice.
 * --name and --state-dir go before or after the subcommand; every command the lab prints for
 * its user is one that runs as printed (see hints.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseNetworkConfig } from '../config/index.ts';
import { ConfigError, describeError } from '../errors/index.ts';
import { Cidr } from '../ip/index.ts';
import { Cluster, ETCD_PREFIX, UNDERLAY, foreignStateEntries, labNamespaces, nodeMachine, nodeSubnet, type LabNode } from './cluster.ts';
import { allReachable, renderProbeReport, type ProbeReport } from './connectivity.ts';
import { lastReport, probeWhat, verifyLab } from './verify.ts';
import { DEFAULT_LAB_NAME, LAB_STATE_ROOT, cliCommand, labHints, labInvocation, renderHints, shellWord } from './hints.ts';
import { labNode } from './node-command.ts';
import { labPod } from './pod-command.ts';
import { DEFAULT_UI_PORT, labUi, writeStatusSvg } from './ui/ui-command.ts';
import { labPath } from './ui/path-command.ts';
import { GLOBAL, LabUsageError, MAX_LAB_NODES, MAX_PODS_PER_NODE_AT_UP, loadLab, needRoot, nsList, parsing, targetOf, usageError, type LabIO, type Target } from './command-kit.ts';

export { LabUsageError, type LabIO } from './command-kit.ts';
import { addLabPodAsync, loadPods, prepareNodeCni, savePods, type LabPod } from './lab-pods.ts';
import { mapLimit, secondsSince } from './fanout.ts';
import { FAULTS, breakFault, faultById, healFaults, injectedOn, renderFaultList } from './faults.ts';
import { DOCTOR_PARALLEL, failures, labDoctor as runLabDoctor, renderLabDoctor, summaryLine } from './lab-doctor.ts';
import { LAB_BACKENDS, labBackend, type LabBackend } from './backends.ts';

const UNDERLAY_CIDR = `${UNDERLAY.gateway.replace(/\.\d+$/, '.0')}/${UNDERLAY.prefix}`;

export function labHelp(cli: string = cliCommand()): string {
  return `Usage: ${cli} lab [--name NAME] [--state-dir DIR] <up|check|status|exec|path|doctor|break|heal|node|pod|ui|down> [options]

  lab up      build a cluster in network namespaces, print its nodes, pods and pod-to-pod
              connectivity matrix, doctor's summary of every node, and commands to try on it
              (exit 1 if a pod pair fails)
      --nodes N            nodes, 1-${MAX_LAB_NODES} (default 3)      --pods N          pods per node, 0-${MAX_PODS_PER_NODE_AT_UP} (default 2)
      --backend TYPE       ${LAB_BACKENDS.map((b) => b.type).join(' | ')} (default vxlan)
      --direct-routing     vxlan DirectRouting          --nftables        nftables instead of iptables
      --network CIDR       cluster network (default 10.244.0.0/16; not in the underlay ${UNDERLAY_CIDR})
      --etcd-endpoints U   use this etcd (reachable from the lab underlay) instead of starting one
      --replace            if a lab of this name is up, remove it first and build this one
      --keep-on-failure    leave what was built for debugging instead of cleaning up
              A lab of this name that is already up is never replaced silently: with the same
              options lab up probes it again and prints it (no rebuild); with other options, or
              when what is there did not finish building, it refuses (exit 1), says what runs and
              how to replace it (lab down first, or --replace).
  lab check   probe the pod-to-pod matrix again (exit 1 if any pair fails)
  lab status  nodes, pods, the last matrix, the faults injected, and each node's routes, VXLAN
              FDB/neighbours and rules
      --svg FILE           write the topology as a standalone SVG picture instead (for slides and notes)
  lab ui [--port N]
              serve a live picture of the lab on http://127.0.0.1:N/ (default 8090, 0 picks a free
              port): topology, nodes, pods, routes and tunnels, the matrix (probe again), doctor,
              and the hop-by-hop path of a pod pair; it follows the lab as it changes. Ctrl-C stops it
  lab path <from-pod> <to-pod> [--json]
              the packet's path between two pods hop by hop, as the kernels hold it now: each hop
              with the command that shows its object (route, veth, bridge, FDB/neighbour, WireGuard
              peer or lease, iptables/nft chain) and what it printed; exit 1 if the path breaks
  lab exec <node|pod|etcd|switch> -- <command...>
              run a command in that namespace (node1, node1-pod1, ...); exits with its exit code
  lab doctor [node] [--json] [--connectivity]
              flannel-ts doctor on every node (or one), as its operator runs it there: one report
              with a NODE column (--json: every result names its node); exit 1 if a check fails
  lab break <fault> [node]
              inject a fault on a node (default node1) to practise finding it with doctor
  lab break --list
              the faults, each in one line, with the seed it comes from and the checks that find it
  lab heal [fault] [node]
              put back what lab break changed: that fault, or every fault injected (on that node)
  lab node add [--pods N] | lab node remove <node>
              a machine joins the lab (the next node number, its flanneld, N pods, default 1) or
              leaves it (its pods deleted, flanneld stopped, its lease deleted from etcd)
  lab pod add <node> | lab pod delete <pod>
              schedule a pod on a node (through its CNI conf and bin dirs, as kubelet's runtime
              does), or remove one; "lab check" then probes the new matrix
  lab down    remove every namespace, process and file of the lab (also after a crash)

  --name NAME      which lab (default "${DEFAULT_LAB_NAME}"); its namespaces are NAME-sw, NAME-cp, NAME-nN, NAME-nN-pK
  --state-dir DIR  where it keeps its state (default ${LAB_STATE_ROOT}/NAME)
  Both go before or after the subcommand. Command-line mistakes exit 2. Run as root.
`;
}

/** What `lab up` was asked to build; two labs with equal options are the same lab. */
export interface LabOptions {
  readonly nodes: number;
  readonly pods: number;
  readonly backend: string;
  readonly directRouting: boolean;
  readonly nftables: boolean;
  readonly network: string;
  /** Empty: the lab runs its own etcd. */
  readonly etcdEndpoints: readonly string[];
}

/** The options as `lab up` flags, every one spelled out (so a difference is visible). */
export function optionFlags(o: LabOptions): string[] {
  return [
    '--nodes', String(o.nodes),
    '--pods', String(o.pods),
    '--backend', o.backend,
    ...(o.directRouting ? ['--direct-routing'] : []),
    ...(o.nftables ? ['--nftables'] : []),
    '--network', o.network,
    ...(o.etcdEndpoints.length ? ['--etcd-endpoints', o.etcdEndpoints.join(',')] : []),
  ];
}

function sameOptions(a: LabOptions, b: LabOptions): boolean {
  return optionFlags(a).join(' ') === optionFlags(b).join(' ');
}

interface UpRecord {
  options: LabOptions;
  /** Every node and pod was built (the matrix may still have failed). */
  complete: boolean;
}

function netconfOf(o: LabOptions): Record<string, unknown> {
  const backend = labBackend(o.backend);
  if (!backend) throw new Error(`no lab backend ${o.backend}`);
  return { Network: o.network, EnableNFTables: o.nftables, Backend: backend.backendSection(o) };
}

/** What a lab in `stateDir` was built with: its up.json, or (labs built before it) lab.json and pods.json. */
function recordOf(stateDir: string): UpRecord | undefined {
  const up = join(stateDir, 'up.json');
  if (existsSync(up)) return JSON.parse(readFileSync(up, 'utf8')) as UpRecord;
  if (!existsSync(join(stateDir, 'lab.json'))) return undefined;
  const cluster = Cluster.load(stateDir);
  const nc = cluster.spec.netconf as { Network?: string; EnableNFTables?: boolean; Backend?: { Type?: string; DirectRouting?: boolean } };
  const nodes = cluster.nodes.length;
  return {
    options: {
      nodes,
      pods: nodes ? Math.floor(loadPods(stateDir).length / nodes) : 0,
      backend: nc.Backend?.Type ?? 'vxlan',
      directRouting: nc.Backend?.DirectRouting === true,
      nftables: nc.EnableNFTables === true,
      network: nc.Network ?? '',
      etcdEndpoints: cluster.spec.etcdEndpoints ?? [],
    },
    complete: true,
  };
}

function writeRecord(stateDir: string, record: UpRecord): void {
  writeFileSync(join(stateDir, 'up.json'), JSON.stringify(record, null, 2));
}

async function step<T>(io: LabIO, what: string, likelyCause: string, fn: () => T | Promise<T>): Promise<T> {
  io.progress(`[lab] ${what}`);
  try {
    return await fn();
  } catch (err) {
    throw new ConfigError('E_LAB_STEP', `lab step "${what}" failed: ${describeError(err)}`, { hint: likelyCause, cause: err });
  }
}

function intOption(v: string | undefined, name: string, min: number, max: number, def: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) usageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

const UP_OPTIONS = {
  ...GLOBAL,
  nodes: { type: 'string' },
  pods: { type: 'string' },
  backend: { type: 'string' },
  network: { type: 'string' },
  nftables: { type: 'boolean' },
  'direct-routing': { type: 'boolean' },
  'etcd-endpoints': { type: 'string' },
  replace: { type: 'boolean' },
  'keep-on-failure': { type: 'boolean' },
} as const;

/** What is there under a lab's name when `lab up` starts. */
type Existing =
  | { kind: 'none' }
  /** State without namespaces (they were deleted by hand, or the machine rebooted halfway). */
  | { kind: 'stale' }
  /** Namespaces, and the state that describes them (maybe in another --state-dir). */
  | { kind: 'lab'; stateDir: string; record: UpRecord; namespaces: string[] }
  /** Namespaces nobody describes: a crash or a kill left them. */
  | { kind: 'orphaned'; namespaces: string[] };

function existing(t: Target): Existing {
  const namespaces = labNamespaces(t.name);
  if (namespaces.length === 0) return existsSync(t.stateDir) ? { kind: 'stale' } : { kind: 'none' };
  const stateDir = existsSync(join(t.stateDir, 'lab.json')) ? t.stateDir : Cluster.findStateDir(t.name);
  const record = stateDir ? recordOf(stateDir) : undefined;
  return stateDir && record ? { kind: 'lab', stateDir, record, namespaces } : { kind: 'orphaned', namespaces };
}

export async function labUp(args: string[], io: LabIO): Promise<number> {
  const { values } = parsing('up', Object.keys(UP_OPTIONS), () => parseArgs({ args, options: UP_OPTIONS, tokens: true }));
  const t = targetOf(values);
  const backend = values.backend ?? 'vxlan';
  const want: LabOptions = {
    nodes: intOption(values.nodes, 'nodes', 1, MAX_LAB_NODES, 3),
    pods: intOption(values.pods, 'pods', 0, MAX_PODS_PER_NODE_AT_UP, 2),
    backend,
    directRouting: values['direct-routing'] === true,
    nftables: values.nftables === true,
    network: values.network ?? '10.244.0.0/16',
    etcdEndpoints: values['etcd-endpoints']?.split(',').filter(Boolean) ?? [],
  };
  const profile = labBackend(backend);
  if (!profile) usageError(`--backend "${backend}" is not available in the lab (choose ${LAB_BACKENDS.map((b) => b.type).join(', ')})`);
  if (want.directRouting && !profile.directRouting) usageError(`--direct-routing only applies to --backend ${LAB_BACKENDS.filter((b) => b.directRouting).map((b) => b.type).join(' or ')}`);
  for (const u of want.etcdEndpoints) {
    if (!/^https?:\/\/[^/\s]+:\d+\/?$/.test(u)) usageError(`--etcd-endpoints: "${u}" is not an etcd URL such as http://192.168.50.2:2379`);
  }
  const netconf = netconfOf(want);
  const parsed = parseNetworkConfig(JSON.stringify(netconf), { source: '--network/--backend' });
  const network = parsed.v4?.network;
  if (network?.overlaps(Cidr.parse(UNDERLAY_CIDR))) usageError(`--network ${want.network} overlaps the lab's underlay ${UNDERLAY_CIDR}, where its nodes' eth0 are; pick another range (default 10.244.0.0/16)`);
  const options: LabOptions = { ...want, network: network?.toString() ?? want.network };
  needRoot();
  const cannot = profile.unavailable?.();
  if (cannot) throw new ConfigError('E_LAB_BACKEND', `--backend ${backend} cannot run on this machine: ${cannot}. Nothing was built`, { hint: `choose another backend: ${LAB_BACKENDS.filter((b) => b !== profile && !b.unavailable?.()).map((b) => b.type).join(', ')}` });
  const foreign = foreignStateEntries(t.stateDir);
  if (foreign.length) usageError(`--state-dir ${t.stateDir} already holds files a lab does not write (${foreign.slice(0, 3).join(', ')}); name a new or empty directory, since lab down removes it`);

  const upCommand = `${labInvocation(t)} up --replace ${optionFlags(options).map(shellWord).join(' ')}`;
  const there = existing(t);
  if (there.kind === 'stale') {
    io.progress(`[lab] removing the stale state of lab "${t.name}" in ${t.stateDir} (its namespaces are gone)`);
    Cluster.down(t.name, t.stateDir, (m) => io.progress(`[lab] ${m}`));
  } else if (there.kind === 'lab' || there.kind === 'orphaned') {
    const where = there.kind === 'lab' ? { ...t, stateDir: there.stateDir } : t;
    const runs = there.kind === 'lab' ? `${optionFlags(there.record.options).join(' ')}${there.stateDir !== t.stateDir ? ` --state-dir ${there.stateDir}` : ''}` : '';
    if (values.replace) {
      io.progress(`[lab] --replace: removing lab "${t.name}"${runs ? ` (${runs})` : ` (${nsList(there.namespaces)})`}`);
      await labDown([...(t.name !== DEFAULT_LAB_NAME ? ['--name', t.name] : []), '--state-dir', where.stateDir], { out: (l) => io.progress(`[lab] ${l}`), progress: io.progress });
      if (existsSync(t.stateDir)) Cluster.down(t.name, t.stateDir, (m) => io.progress(`[lab] ${m}`));
    } else if (there.kind === 'lab' && there.record.complete && there.stateDir === t.stateDir && sameOptions(there.record.options, options)) {
      io.progress(`[lab] lab "${t.name}" is already up with these options: probing it again instead of rebuilding (--replace rebuilds it)`);
      return reprobe(t, io);
    } else {
      const down = `${labInvocation(where)} down`;
      const how = `remove it first with "${down}", or replace it in one step with "${upCommand}"`;
      if (there.kind === 'orphaned') {
        throw new ConfigError('E_LAB_EXISTS', `namespaces of a lab "${t.name}" exist (${nsList(there.namespaces)}) but no lab state describes them (none in ${t.stateDir}, and no running process of theirs names one): a crash or a kill left them`, { hint: how });
      }
      const what = there.record.complete ? 'is already up' : 'is left from a lab up that did not finish (--keep-on-failure, or interrupted)';
      throw new ConfigError('E_LAB_EXISTS', `lab "${t.name}" ${what}, built with: ${runs}; this lab up asks for: ${optionFlags(options).join(' ')}${t.stateDir !== there.stateDir ? ` --state-dir ${t.stateDir}` : ''}. Nothing was changed`, { hint: how });
    }
  }
  return build(t, options, netconf, values['keep-on-failure'] === true, io);
}

async function build(t: Target, options: LabOptions, netconf: Record<string, unknown>, keepOnFailure: boolean, io: LabIO): Promise<number> {
  const lab = labInvocation(t);
  mkdirSync(t.stateDir, { recursive: true });
  writeRecord(t.stateDir, { options, complete: false });
  const cleanup = (): void => {
    if (keepOnFailure) {
      io.progress(`[lab] keeping what was built (--keep-on-failure): logs in ${t.stateDir}; look with "${lab} status", remove it with "${lab} down"`);
    } else {
      io.progress('[lab] cleaning up after the failure (--keep-on-failure keeps what was built, with its logs)');
      Cluster.down(t.name, t.stateDir, (m) => io.progress(`[lab] ${m}`));
    }
  };
  const n = options.nodes;
  const etcdCause = options.etcdEndpoints.length
    ? `is the etcd at ${options.etcdEndpoints.join(',')} up and reachable from the lab underlay (${UNDERLAY_CIDR})?`
    : 'is etcd-server installed (bash scripts/setup.sh)?';
  try {
    const cluster = await step(
      io,
      `starting ${n} node${n === 1 ? '' : 's'} (${options.backend}${options.directRouting ? ' DirectRouting' : ''}, ${options.nftables ? 'nftables' : 'iptables'}, ${options.network})`,
      `${etcdCause} If flanneld failed, the error above ends with its last log lines${keepOnFailure ? `; all logs are in ${t.stateDir}` : '; --keep-on-failure keeps the logs'}`,
      () =>
        Cluster.up({
          prefix: t.name,
          nodes: n,
          netconf,
          ipMasq: true,
          stateDir: t.stateDir,
          ...(options.etcdEndpoints.length ? { etcdEndpoints: [...options.etcdEndpoints] } : {}),
          progress: (m) => io.progress(`[lab]   ${m}`),
        }),
    );
    await step(io, "preparing each node's CNI conf and bin dirs (its /run/cni/net.d and /run/cni/bin)", 'run bash scripts/setup.sh: it builds the plugin and installs containernetworking-plugins', () => {
      for (const node of cluster.nodes) prepareNodeCni(node);
    });
    const pods = await createPods(t, cluster, options.pods, keepOnFailure, io);
    writeRecord(t.stateDir, { options, complete: true });
    // Doctor only reads each node: it runs while the probes wait for answers.
    const doctored = doctorSample(cluster.nodes).length;
    io.progress(`[lab] running doctor on ${doctored === n ? `${n} node${n === 1 ? '' : 's'}` : `${doctored} of ${n} nodes`}, beside the probes`);
    const doctor = doctorLine(t, cluster);
    const cells = await step(io, `probing ${probeWhat(pods)} (ICMP; pods also TCP)`, 'a probe process could not run: is fping installed (bash scripts/setup.sh)?', () => verifyLab(cluster, pods, io.progress));
    return report(t, cluster, pods, cells, await doctor, io);
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** How many pods are created at once (each is a CNI ADD chain and an echo server starting). */
const PARALLEL_PODS = 6;

/**
 * `perNode` pods on every node through its CNI conf and bin dirs, several at a time; one line per
 * pod in a small lab, a running count in a big one.
 */
async function createPods(t: Target, cluster: Cluster, perNode: number, keepOnFailure: boolean, io: LabIO): Promise<LabPod[]> {
  const wanted = cluster.nodes.flatMap((node) => Array.from({ length: perNode }, (_, i) => ({ node, k: i + 1 })));
  if (wanted.length === 0) return [];
  const many = wanted.length > 12;
  if (many) io.progress(`[lab] creating ${wanted.length} pods through the CNI plugin (flannel → bridge + host-local, portmap), ${PARALLEL_PODS} at a time`);
  let done = 0;
  const step10 = Math.max(1, Math.round(wanted.length / 10));
  const since = Date.now();
  const pods = await mapLimit(wanted, PARALLEL_PODS, ({ node, k }) =>
    step(
      many ? { out: io.out, progress: () => undefined } : io,
      `creating pod ${node.name}-pod${k} through the CNI plugin (flannel → bridge + host-local, portmap)`,
      `check ${node.subnetFile} and the flanneld log of ${node.name} (${node.logFile})${keepOnFailure ? '' : '; --keep-on-failure keeps them'}`,
      async () => {
        const pod = await addLabPodAsync(node, k);
        if (many && (++done % step10 === 0 || done === wanted.length)) io.progress(`[lab]   pods created: ${done}/${wanted.length}${done === wanted.length ? ` (${secondsSince(since)})` : ''}`);
        return pod;
      },
    ),
  );
  savePods(t.stateDir, pods);
  return pods;
}

/** `lab up` on a lab that is up with the same options: probe it again and print it. */
async function reprobe(t: Target, io: LabIO): Promise<number> {
  const { cluster, pods } = loadLab(t, 'up');
  const cells = await verifyLab(cluster, pods, io.progress);
  return report(t, cluster, pods, cells, await doctorLine(t, cluster), io);
}

/** Doctor's summary line over every node, for under the matrix; what went wrong when it could not run. */
async function doctorLine(t: Target, cluster: Cluster): Promise<string> {
  const lab = labInvocation(t);
  const nodes = doctorSample(cluster.nodes);
  const sampled = nodes.length < cluster.nodes.length ? ` (on ${nodes.length} of ${cluster.nodes.length} nodes: ${nodes.map((n) => n.name).join(', ')}; "${lab} doctor" runs it on all)` : '';
  try {
    const r = await runLabDoctor(cluster, nodes);
    const failed = failures(r);
    return `${summaryLine(r.summary)}${failed.length ? ` (${failed.join(', ')}; details: "${lab} doctor")` : ''}${sampled}`;
  } catch (err) {
    return `doctor: could not run (${describeError(err).split('\n')[0]})`;
  }
}

/** Doctor at lab up runs on every node of a small lab; on a big one, on this many spread over it (each run is a process reading the whole node). */
const DOCTOR_AT_UP_NODES = 10;

function doctorSample(nodes: readonly LabNode[]): LabNode[] {
  if (nodes.length <= DOCTOR_AT_UP_NODES) return [...nodes];
  // As many as lab doctor runs at once: one round.
  const k = DOCTOR_PARALLEL;
  return Array.from({ length: k }, (_, i) => nodes[Math.round((i * (nodes.length - 1)) / (k - 1))] as LabNode);
}

/** The lab, its matrix, doctor's summary and the commands to try; exit 1 if a pair fails. */
function report(t: Target, cluster: Cluster, pods: readonly LabPod[], cells: ProbeReport, doctor: string, io: LabIO): number {
  const lab = labInvocation(t);
  io.out(describeLab(cluster, pods, cells));
  io.out(doctor);
  const stopped = stoppedNodes(cluster);
  if (stopped) io.out(`\n${stopped}`);
  io.out('\nTry:');
  io.out(renderHints(hintsFor(t, cluster, pods)).join('\n'));
  io.out(`\nSee it: "${lab} ui" serves a live picture at http://127.0.0.1:${DEFAULT_UI_PORT}/; "${lab} status --svg lab.svg" draws it into a file.`);
  if (!allReachable(cells)) {
    io.out(`\nSome pod pairs are not reachable. The lab is left running for inspection ("${lab} status", "${lab} exec <node|pod> -- <command>"); remove it with "${lab} down".`);
    return 1;
  }
  return 0;
}

/** The node's pod subnet as a network (subnet.env holds the node's first address in it). */
function subnetOf(node: LabNode): string | undefined {
  const value = nodeSubnet(node);
  return value === undefined ? undefined : (Cidr.tryParse(value)?.toString() ?? value);
}

function hintsFor(t: Target, cluster: Cluster, pods: readonly LabPod[]): ReturnType<typeof labHints> {
  const nc = cluster.spec.netconf as { Network?: string; EnableNFTables?: boolean; Backend?: { Type?: string; DirectRouting?: boolean } };
  return labHints(t, {
    backend: nc.Backend?.Type ?? 'vxlan',
    directRouting: nc.Backend?.DirectRouting === true,
    nftables: nc.EnableNFTables === true,
    network: nc.Network ?? '',
    externalEtcd: cluster.spec.etcdEndpoints ?? [],
    etcdPrefix: ETCD_PREFIX,
    nodes: cluster.nodes.map((n) => {
      const subnet = subnetOf(n);
      return { name: n.name, underlayIP: n.underlayIP, subnetFile: n.subnetFile, ...(subnet ? { subnet } : {}) };
    }),
    pods,
  });
}

function stoppedNodes(cluster: Cluster): string {
  const stopped = cluster.nodes.filter((n) => cluster.flanneldPid(n) === undefined);
  return stopped.length ? `flanneld is not running on: ${stopped.map((n) => `${n.name} (log: ${n.logFile})`).join(', ')}` : '';
}

function nodeRow(cluster: Cluster, node: LabNode, backend: LabBackend | undefined): string[] {
  const subnet = nodeSubnet(node) ?? '(none)';
  const identity = backend?.identity.read(nodeMachine(node)) ?? '-';
  const running = cluster.flanneldPid(node) !== undefined ? 'running' : 'STOPPED';
  return [node.name, node.ns, node.underlayIP, subnet, identity, running];
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)) + 2) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('').trimEnd()).join('\n');
}

function describeLab(cluster: Cluster, pods: readonly LabPod[], cells: ProbeReport | undefined): string {
  const nc = cluster.spec.netconf as { Network: string; EnableNFTables: boolean; Backend: { Type: string; DirectRouting?: boolean } };
  const backend = labBackend(nc.Backend.Type);
  return [
    '',
    `lab "${cluster.spec.prefix}": ${cluster.nodes.length} node${cluster.nodes.length === 1 ? '' : 's'}, backend ${nc.Backend.Type}${nc.Backend.DirectRouting ? ' (DirectRouting)' : ''}, network ${nc.Network}, ${nc.EnableNFTables ? 'nftables' : 'iptables'}, etcd ${cluster.etcdEndpoints.join(',')}, state in ${cluster.spec.stateDir}`,
    '',
    table([['NODE', 'NAMESPACE', 'UNDERLAY IP', 'FLANNEL_SUBNET', backend?.identity.title ?? '-', 'FLANNELD'], ...cluster.nodes.map((n) => nodeRow(cluster, n, backend))]),
    '',
    pods.length ? table([['POD', 'NODE', 'NAMESPACE', 'IP'], ...pods.map((p) => [p.name, p.node, p.ns, p.ip])]) : '(no pods)',
    '',
    cells ? renderProbeReport(pods, cells) : '(not probed yet)',
  ].join('\n');
}

export async function labCheck(args: string[], io: LabIO): Promise<number> {
  const { values } = parsing('check', Object.keys(GLOBAL), () => parseArgs({ args, options: GLOBAL, tokens: true }));
  const t = targetOf(values);
  needRoot();
  const { cluster, pods } = loadLab(t, 'check');
  const cells = await verifyLab(cluster, pods, io.progress);
  io.out(renderProbeReport(pods, cells));
  const stopped = stoppedNodes(cluster);
  if (stopped) io.out(stopped);
  return allReachable(cells) ? 0 : 1;
}

const STATUS_OPTIONS = { ...GLOBAL, svg: { type: 'string' } } as const;

export async function labStatus(args: string[], io: LabIO): Promise<number> {
  const { values } = parsing('status', Object.keys(STATUS_OPTIONS), () => parseArgs({ args, options: STATUS_OPTIONS, tokens: true }));
  const t = targetOf(values);
  if (values.svg === '') usageError('--svg needs a file name');
  needRoot();
  if (values.svg !== undefined) return writeStatusSvg(t, values.svg, io);
  const { cluster, pods } = loadLab(t, 'status');
  const last = lastReport(t.stateDir);
  io.out(describeLab(cluster, pods, last));
  io.out(`(checked at ${last?.at ?? 'never'}; "${labInvocation(t)} check" probes again)`);
  const stopped = stoppedNodes(cluster);
  if (stopped) io.out(stopped);
  const faults = injectedFaults(cluster);
  if (faults) io.out(`${faults}; "${labInvocation(t)} heal" heals them`);
  const nc = cluster.spec.netconf as { EnableNFTables?: boolean; Backend?: { Type?: string } };
  const backend = labBackend(nc.Backend?.Type ?? 'vxlan');
  for (const node of cluster.nodes) {
    const machine = nodeMachine(node);
    const run = (cmd: string, a: readonly string[]): string => {
      try {
        return machine.exec(cmd, a).trimEnd() || '(empty)';
      } catch (err) {
        return `(${describeError(err).split('\n')[0]})`;
      }
    };
    io.out(`\n== ${node.name} (${node.ns})`);
    io.out(`-- ip route\n${run('ip', ['route'])}`);
    for (const [cmd = 'true', ...a] of backend?.statusCommands ?? []) io.out(`-- ${[cmd, ...a].join(' ')}\n${run(cmd, a)}`);
    io.out(
      nc.EnableNFTables === true
        ? `-- nft list table ip flannel-ipv4\n${run('nft', ['list', 'table', 'ip', 'flannel-ipv4'])}`
        : `-- iptables -t nat -S FLANNEL-POSTRTG; iptables -S FLANNEL-FWD\n${run('iptables', ['-t', 'nat', '-S', 'FLANNEL-POSTRTG'])}\n${run('iptables', ['-S', 'FLANNEL-FWD'])}`,
    );
  }
  return 0;
}

export async function labExec(args: string[], _io: LabIO): Promise<number> {
  const dd = args.indexOf('--');
  if (dd < 0) usageError('lab exec needs "--" before the command: lab exec <node|pod|etcd|switch> -- <command...>');
  if (dd === args.length - 1) usageError('lab exec: no command after "--" (e.g. lab exec node1 -- ip route)');
  const { values, positionals } = parsing('exec', Object.keys(GLOBAL), () => parseArgs({ args: args.slice(0, dd), options: GLOBAL, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  const target = positionals[0];
  if (!target || positionals.length > 1) usageError(`lab exec: name one target before "--": a node (node1), a pod (node1-pod1), etcd or switch${positionals.length > 1 ? `, not ${positionals.length} (${positionals.join(' ')})` : ''}`);
  needRoot();
  const { cluster, pods } = loadLab(t, 'exec');
  const external = cluster.spec.etcdEndpoints;
  if (target === 'etcd' && external) {
    const first = cluster.nodes[0]?.name ?? 'node1';
    throw new LabUsageError('E_LAB_USAGE', `lab "${t.name}" uses the etcd at ${external.join(',')}, not one of its own: there is no etcd namespace`, {
      hint: `run etcdctl from a node: "${labInvocation(t)} exec ${first} -- etcdctl --endpoints=${external.join(',')} get --prefix --keys-only ${ETCD_PREFIX}/subnets"`,
    });
  }
  const node = cluster.nodes.find((n) => n.name === target);
  const ns = target === 'etcd' ? cluster.controlNs : target === 'switch' ? cluster.switchNs : (pods.find((p) => p.name === target)?.ns ?? node?.ns);
  if (!ns) usageError(`no node or pod "${target}" in lab "${t.name}" (nodes: ${cluster.nodes.map((n) => n.name).join(', ')}; pods: ${pods.map((p) => p.name).join(', ') || 'none'}; also ${external ? '' : 'etcd and '}switch)`);
  const command = args.slice(dd + 1);
  // A node is a machine with its own /run (flanneld's subnet.env, wireguard-go's sockets); pods, etcd and the switch are plain namespaces.
  const [cmd = 'ip', ...rest] = node ? nodeMachine(node).argv(command[0] ?? 'true', command.slice(1)) : ['ip', 'netns', 'exec', ns, ...command];
  const r = spawnSync(cmd, rest, { stdio: 'inherit' });
  return r.status ?? 1;
}

/** "faults injected by lab break: node2: udp-blocked, ...", or '' when none. */
function injectedFaults(cluster: Cluster): string {
  const per = cluster.nodes.flatMap((n) => {
    const faults = injectedOn(n).map((i) => i.fault);
    return faults.length ? [`${n.name}: ${faults.join(', ')}`] : [];
  });
  return per.length ? `faults injected by lab break: ${per.join('; ')}` : '';
}

const DOCTOR_OPTIONS = { ...GLOBAL, json: { type: 'boolean' }, connectivity: { type: 'boolean' } } as const;

export async function labDoctorCommand(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('doctor', Object.keys(DOCTOR_OPTIONS), () => parseArgs({ args, options: DOCTOR_OPTIONS, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  if (positionals.length > 1) usageError(`lab doctor takes at most one node, not ${positionals.length} (${positionals.join(' ')})`);
  needRoot();
  const { cluster } = loadLab(t, 'doctor');
  const nodes = positionals[0] === undefined ? cluster.nodes : [nodeOf(t, cluster, positionals[0])];
  const r = await runLabDoctor(cluster, nodes, { connectivity: values.connectivity === true });
  if (values.json) {
    io.out(JSON.stringify(r, null, 2));
  } else {
    io.out(renderLabDoctor(r));
    const lab = labInvocation(t);
    if (r.summary.fail + r.summary.warn > 0) io.out(`run a fix on its node with "${lab} exec <node> -- <command>"${injectedFaults(cluster) ? `; "${lab} heal" heals what lab break injected` : ''}`);
  }
  return r.summary.fail > 0 ? 1 : 0;
}

function nodeOf(t: Target, cluster: Cluster, name: string): LabNode {
  const node = cluster.nodes.find((n) => n.name === name);
  if (!node) usageError(`no node "${name}" in lab "${t.name}" (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

const BREAK_OPTIONS = { ...GLOBAL, list: { type: 'boolean' } } as const;
const faultIds = (): string => FAULTS.map((f) => f.id).join(', ');

export async function labBreak(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('break', Object.keys(BREAK_OPTIONS), () => parseArgs({ args, options: BREAK_OPTIONS, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  if (values.list) {
    if (positionals.length) usageError('lab break --list takes no fault or node');
    io.out(`Faults "lab break <fault> [node]" injects (inside the lab only; "lab heal" removes them):
${renderFaultList()}`);
    return 0;
  }
  const [id, nodeName, ...more] = positionals;
  if (id === undefined) usageError(`lab break needs a fault: ${faultIds()} ("lab break --list" explains each)`);
  if (more.length) usageError(`lab break takes a fault and one node, not ${positionals.join(' ')}`);
  const fault = faultById(id);
  if (!fault) usageError(`no fault "${id}" (faults: ${faultIds()}; "lab break --list" explains each)`);
  needRoot();
  const { cluster } = loadLab(t, 'break');
  const node = nodeOf(t, cluster, nodeName ?? cluster.nodes[0]?.name ?? 'node1');
  const lab = labInvocation(t);
  const done = await breakFault(cluster, node, fault, (m) => io.progress(`[lab] ${m}`));
  io.out(
    done === 'already'
      ? `${fault.id} is already injected on ${node.name}: nothing changed`
      : `injected ${fault.id} on ${node.name}: ${fault.explanation}
find it with "${lab} doctor ${node.name}"; undo it with "${lab} heal ${fault.id} ${node.name}"`,
  );
  return 0;
}

export async function labHeal(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('heal', Object.keys(GLOBAL), () => parseArgs({ args, options: GLOBAL, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  if (positionals.length > 2) usageError(`lab heal takes at most a fault and a node, not ${positionals.join(' ')}`);
  needRoot();
  const { cluster } = loadLab(t, 'heal');
  let faultId: string | undefined;
  let nodeName: string | undefined;
  for (const p of positionals) {
    if (faultById(p) && faultId === undefined) faultId = p;
    else if (cluster.nodes.some((n) => n.name === p) && nodeName === undefined) nodeName = p;
    else usageError(`"${p}" is neither a fault (${faultIds()}) nor a node of lab "${t.name}" (${cluster.nodes.map((n) => n.name).join(', ')})`);
  }
  const fault = faultId === undefined ? undefined : faultById(faultId);
  const nodes = nodeName === undefined ? cluster.nodes : [nodeOf(t, cluster, nodeName)];
  const healed: string[] = [];
  for (const node of nodes) {
    for (const f of await healFaults(cluster, node, fault, (m) => io.progress(`[lab] ${m}`))) healed.push(`${f} on ${node.name}`);
  }
  const where = nodeName ?? 'any node';
  io.out(healed.length ? `healed ${healed.join(', ')}` : `nothing to heal: lab break injected ${fault ? fault.id : 'no fault'} on ${where}`);
  return 0;
}

export async function labDown(args: string[], io: LabIO): Promise<number> {
  const { values } = parsing('down', Object.keys(GLOBAL), () => parseArgs({ args, options: GLOBAL, tokens: true }));
  const t = targetOf(values);
  needRoot();
  const found = existsSync(join(t.stateDir, 'lab.json')) ? t.stateDir : (Cluster.findStateDir(t.name) ?? t.stateDir);
  // No CNI DEL per pod: all it would undo (veths, host-local's leases, saved delegate files, portmap's
  // rules) lives in the lab's namespaces and state directory, which go as a whole.
  const hadState = existsSync(found) || existsSync(t.stateDir);
  const log = (m: string): void => io.progress(`[lab] ${m}`);
  const removed = Cluster.down(t.name, found, log);
  if (found !== t.stateDir && existsSync(t.stateDir)) Cluster.down(t.name, t.stateDir, log);
  const where = found !== t.stateDir ? ` and its state in ${found}` : '';
  for (const dir of [LAB_STATE_ROOT, dirname(LAB_STATE_ROOT)]) {
    try {
      rmdirSync(dir); // only when empty: the last lab leaves no /run/flannel-ts behind
    } catch {
      break;
    }
  }
  if (removed.length) io.out(`removed lab "${t.name}": ${removed.join(' ')}${where}`);
  else if (hadState) io.out(`lab "${t.name}" had no namespaces left; removed its state in ${found}`);
  else io.out(`no lab "${t.name}" was up; nothing to remove`);
  return 0;
}

export const LAB_COMMANDS: Record<string, (args: string[], io: LabIO) => Promise<number>> = {
  up: labUp,
  check: labCheck,
  status: labStatus,
  exec: labExec,
  path: labPath,
  doctor: labDoctorCommand,
  break: labBreak,
  heal: labHeal,
  node: labNode,
  pod: labPod,
  ui: labUi,
  down: labDown,
};

/**
 * `lab [--name N] [--state-dir D] <subcommand> [options]`: the global options may come first;
 * they are handed to the subcommand, which also takes them after its name.
 */
export async function runLab(args: string[], io: LabIO): Promise<number> {
  const lead: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--help' || a === '-h') {
      io.out(labHelp().trimEnd());
      return 0;
    }
    if (!a.startsWith('-')) break;
    const m = /^--(name|state-dir)(=.*)?$/.exec(a);
    if (!m) usageError(`${a} before the subcommand: only --name and --state-dir go there; put it after the subcommand (e.g. "lab up ${a}")`);
    lead.push(a);
    if (m[2] === undefined) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('-')) usageError(`--${m[1]} needs a value`);
      lead.push(v);
      i++;
    }
  }
  const sub = args[i];
  const rest = args.slice(i + 1);
  if (sub === undefined) {
    if (lead.length) usageError(`name a subcommand after the options: ${Object.keys(LAB_COMMANDS).join(', ')}`);
    io.progress(labHelp().trimEnd());
    return 2;
  }
  if (sub === 'help') {
    io.out(labHelp().trimEnd());
    return 0;
  }
  const fn = LAB_COMMANDS[sub];
  if (!fn) usageError(`unknown subcommand "${sub}" (choose ${Object.keys(LAB_COMMANDS).join(', ')})`);
  const dd = rest.indexOf('--');
  const own = dd < 0 ? rest : rest.slice(0, dd);
  if (own.includes('--help') || own.includes('-h')) {
    io.out(labHelp().trimEnd());
    return 0;
  }
  return fn([...lead, ...rest], io);
}
