/**
 * @module doctor/gather
 * Reads everything doctor checks, without changing anything: flanneld's options and process
 * first (the rest depends on them), then every independent fact concurrently, then (with
 * --connectivity) the peer probes. A fact that cannot be read becomes an error value; gathering
 * itself never throws for one of them.
 */
import { hostname } from 'node:os';
import type { DaemonOptions } from '../../config/index.ts';
import { describeError } from '../../errors/index.ts';
import { execRunner, type CommandRunner } from '../../exec/index.ts';
import { createNetlinkKernel } from '../../kernel/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { KernelFacts, NodeFacts, Read } from '../facts.ts';
import { DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR, gatherCni } from './cni.ts';
import { gatherDatastore } from './datastore.ts';
import { gatherTxChecksum } from './ethtool.ts';
import { gatherFirewall } from './firewall.ts';
import { probeHealth } from './health.ts';
import { resolveInterface } from './iface.ts';
import { gatherKernel, type KernelReader } from './kernel.ts';
import { readModules } from './modules.ts';
import { resolveOptions, type FlanneldProcess } from './options.ts';
import { findFlanneldProcesses } from './processes.ts';
import { probePeers } from './probes.ts';
import { readFact, valueOf } from './read.ts';
import { readSubnetEnvFact } from './subnet-env.ts';
import { readSysctls } from './sysctls.ts';
import { gatherWireguard } from './wireguard.ts';

export { resolveOptions, flanneldArgsOf, knownFlanneldArgs, parseEnviron, type FlanneldProcess, type ResolvedOptions } from './options.ts';
export { DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR } from './cni.ts';

export interface GatherOptions {
  /** flanneld flags given to doctor (validated by the command); none: the running flanneld's, else the defaults. */
  readonly flanneldFlags?: readonly string[];
  readonly cniConfDir?: string;
  readonly cniBinDirs?: readonly string[];
  /** Probe every peer (doctor --connectivity). */
  readonly connectivity?: boolean;
}

export interface GatherIo {
  /** Runs iptables-save, nft, ethtool, ping (default: here, as child processes). */
  readonly runner?: CommandRunner;
  /** doctor's environment (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The kernel to read (default: a netlink connection, closed at the end). */
  readonly kernel?: KernelReader;
  /** flanneld processes (default: read from /proc). */
  readonly findProcesses?: () => Promise<FlanneldProcess[]>;
  readonly signal?: AbortSignal;
}

/** The leases of other nodes: every lease but the one whose subnet is this node's (subnet.env's). */
function peerLeases(facts: Pick<NodeFacts, 'subnetEnv' | 'datastore'>): Lease[] {
  const leases = valueOf(facts.datastore.leases) ?? [];
  const own = valueOf(facts.subnetEnv);
  return leases.filter((l) => !((own?.subnet && l.subnet?.equals(own.subnet)) || (own?.ipv6Subnet && l.ipv6Subnet?.equals(own.ipv6Subnet))));
}

interface KernelGroup {
  kernel: Read<KernelFacts>;
  iface: NodeFacts['iface'];
  wireguard: NodeFacts['wireguard'];
  txChecksum: NodeFacts['txChecksum'];
}

async function gatherKernelGroup(options: DaemonOptions, runner: CommandRunner, pid: number | undefined, given: KernelReader | undefined): Promise<KernelGroup> {
  let owned: ReturnType<typeof createNetlinkKernel> | undefined;
  let kernel: KernelReader;
  try {
    kernel = given ?? (owned = createNetlinkKernel());
  } catch (err) {
    const error = `cannot open a netlink socket: ${describeError(err)}`;
    return { kernel: { error }, iface: { error }, wireguard: { error }, txChecksum: {} };
  }
  try {
    const [kfacts, iface] = await Promise.all([readFact(() => gatherKernel(kernel)), readFact(() => resolveInterface(kernel, options.interfaces))]);
    const links = valueOf(kfacts)?.links ?? [];
    const [wireguard, txChecksum] = await Promise.all([readFact(() => gatherWireguard(links, pid)), gatherTxChecksum(runner, links)]);
    return { kernel: kfacts, iface, wireguard, txChecksum };
  } finally {
    await owned?.close().catch(() => undefined);
  }
}

export async function gatherFacts(options: GatherOptions = {}, io: GatherIo = {}): Promise<NodeFacts> {
  const runner = io.runner ?? execRunner();
  const env = io.env ?? process.env;
  const found = await (io.findProcesses ?? findFlanneldProcesses)().catch(() => [] as FlanneldProcess[]);
  const resolved = resolveOptions({ ...(options.flanneldFlags ? { doctorFlags: options.flanneldFlags } : {}), doctorEnv: env, processes: found });
  const { options: daemon, pid } = resolved;

  const [subnetEnv, healthz, datastore, kernelGroup, sysctls, modules, firewall, cni] = await Promise.all([
    readSubnetEnvFact(daemon.subnetFile, pid),
    probeHealth(daemon.healthz),
    gatherDatastore(daemon, resolved.env, pid, io.signal),
    gatherKernelGroup(daemon, runner, pid, io.kernel),
    readSysctls().catch(() => ({})),
    readModules().catch(() => []),
    gatherFirewall(runner),
    gatherCni(options.cniConfDir ?? DEFAULT_CNI_CONF_DIR, options.cniBinDirs ?? DEFAULT_CNI_BIN_DIRS),
  ]);

  const facts: NodeFacts = {
    options: daemon,
    optionsFrom: resolved.from,
    hostname: hostname(),
    subnetEnv,
    flanneld: { processes: found.map(({ pid: p, argv }) => ({ pid: p, argv })), ...(healthz ? { healthz } : {}) },
    datastore,
    kernel: kernelGroup.kernel,
    iface: kernelGroup.iface,
    sysctls,
    modules,
    firewall,
    wireguard: kernelGroup.wireguard,
    txChecksum: kernelGroup.txChecksum,
    cni,
  };
  if (!options.connectivity) return facts;
  const config = valueOf(datastore.config);
  const probes = await probePeers({
    runner,
    peers: peerLeases(facts),
    backendType: config?.backend.type ?? 'vxlan',
    ...(valueOf(kernelGroup.kernel) ? { kernel: valueOf(kernelGroup.kernel) as KernelFacts } : {}),
  }).catch(() => []);
  return { ...facts, probes };
}
