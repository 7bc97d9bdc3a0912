/**
 * @module lab/lab-pods
 * Pods of the lab, created the way kubelet creates them: a network namespace per pod, then the
 * first config of the node's CNI conf dir (the shipped conflist: flannel → bridge + host-local,
 * then portmap) run through the plugins of the node's CNI bin dir. Each node gets its own
 * subnet.env, plugin dataDir, host-local dataDir and CNI conf and bin dirs, because all lab nodes
 * share one root file system.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, LabNode } from './cluster.ts';
import { cniAdd, cniAddAsync, cniDel, type ConfList } from './cni-runtime.ts';
import { Netns } from './netns.ts';
import { run } from './spawner.ts';
import { startEchoServer, startEchoServerAsync } from './probe.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHIPPED_CONFLIST = join(ROOT, 'deploy/cni/10-flannel.conflist');
const DEBIAN_CNI_DIR = '/usr/lib/cni';
/** Where containernetworking-plugins live: Debian's package, then the upstream tarball's place. */
const SYSTEM_CNI_DIRS = [DEBIAN_CNI_DIR, '/opt/cni/bin'];
/** The plugins a node's bin dir links from the system (the shipped conflist's, and the runtime's loopback). */
export const SYSTEM_PLUGINS = ['bridge', 'host-local', 'portmap', 'loopback'] as const;

export interface LabPod {
  readonly name: string;
  readonly node: string;
  readonly ns: string;
  readonly ip: string;
  readonly containerId: string;
}

/** The shipped conflist with the node's own paths filled into the flannel entry. */
export function nodeConfList(node: LabNode): ConfList {
  const list = JSON.parse(readFileSync(SHIPPED_CONFLIST, 'utf8')) as ConfList;
  return {
    ...list,
    plugins: list.plugins.map((p) =>
      p.type === 'flannel' ? { ...p, subnetFile: node.subnetFile, dataDir: join(node.dir, 'cni-flannel'), ipam: { dataDir: join(node.dir, 'cni-ipam') } } : p,
    ),
  };
}

/** How to run our plugin without the compiled binary: a shell wrapper around node. */
function pluginWrapper(): string {
  const entry = import.meta.url.endsWith('.ts') ? `--import tsx ${join(ROOT, 'src/cli/flannel-cni.ts')}` : join(ROOT, 'dist/cli/flannel-cni.js');
  return `#!/bin/sh\ncd ${ROOT} && exec ${process.execPath} ${entry}\n`;
}

/** Puts our plugin at `target`: a link to the compiled binary when built, else the wrapper. */
function installFlannelPlugin(target: string): void {
  rmSync(target, { force: true });
  const compiled = join(ROOT, 'dist/bin/flannel');
  if (existsSync(compiled)) {
    symlinkSync(compiled, target);
  } else {
    writeFileSync(target, pluginWrapper());
    chmodSync(target, 0o755);
  }
}

/**
 * A CNI_PATH holding our plugin (the compiled binary when built, else a node wrapper) in front
 * of Debian's containernetworking-plugins.
 */
export function prepareCniPath(stateDir: string): string {
  if (!existsSync(join(DEBIAN_CNI_DIR, 'bridge'))) {
    throw new Error(`${DEBIAN_CNI_DIR}/bridge is missing: install Debian's containernetworking-plugins (scripts/setup.sh does)`);
  }
  const dir = join(stateDir, 'cni-bin');
  mkdirSync(dir, { recursive: true });
  installFlannelPlugin(join(dir, 'flannel'));
  return `${dir}:${DEBIAN_CNI_DIR}`;
}

/**
 * A node's CNI directories, as a node has /etc/cni/net.d and /opt/cni/bin. They live in the
 * node's /run (the lab cannot give each node its own /etc), so on the node (`lab exec`, doctor)
 * they are /run/cni/net.d and /run/cni/bin; `outside` is where the lab sees them.
 */
export interface NodeCniDirs {
  readonly confDir: string;
  readonly binDir: string;
  readonly outside: { readonly confDir: string; readonly binDir: string };
}

export const FLANNEL_CONFLIST_NAME = '10-flannel.conflist';

export function nodeCniDirs(node: LabNode): NodeCniDirs {
  return {
    confDir: '/run/cni/net.d',
    binDir: '/run/cni/bin',
    outside: { confDir: join(node.runDir, 'cni', 'net.d'), binDir: join(node.runDir, 'cni', 'bin') },
  };
}

/** The first directory of the system's CNI dirs holding `plugin`. */
export function systemPlugin(plugin: string): string | undefined {
  return SYSTEM_CNI_DIRS.map((d) => join(d, plugin)).find((p) => existsSync(p));
}

/**
 * Gives `node` its CNI conf dir (10-flannel.conflist, from nodeConfList) and bin dir (our plugin,
 * and links to bridge, host-local, portmap and loopback of the system), as an installed node has.
 */
export function prepareNodeCni(node: LabNode): NodeCniDirs {
  const dirs = nodeCniDirs(node);
  const { confDir, binDir } = dirs.outside;
  mkdirSync(confDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(confDir, FLANNEL_CONFLIST_NAME), `${JSON.stringify(nodeConfList(node), null, 2)}\n`);
  // Linked to its final target: on the node /run is the node's, so a link into the lab's state dir may not resolve there.
  installFlannelPlugin(join(binDir, 'flannel'));
  for (const plugin of SYSTEM_PLUGINS) {
    const source = systemPlugin(plugin);
    if (!source) throw new Error(`the CNI plugin "${plugin}" is in none of ${SYSTEM_CNI_DIRS.join(', ')}: install containernetworking-plugins (scripts/setup.sh does)`);
    const target = join(binDir, plugin);
    rmSync(target, { force: true });
    symlinkSync(source, target);
  }
  return dirs;
}

/**
 * The network config a runtime would use on `node`: the first file of its conf dir in name order
 * (*.conf, *.conflist, *.json), as kubelet's runtime picks it.
 */
export function nodeRuntimeConfList(node: LabNode): { file: string; list: ConfList } {
  const { confDir } = nodeCniDirs(node).outside;
  const first = readdirSync(confDir).filter((f) => /\.(conf|conflist|json)$/.test(f)).sort()[0];
  if (!first) throw new Error(`no network config in ${confDir} (the node's /run/cni/net.d)`);
  const file = join(confDir, first);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ConfList> & Record<string, unknown>;
  // A single-plugin .conf is a list of one.
  const list: ConfList = parsed.plugins
    ? { cniVersion: String(parsed.cniVersion ?? '1.0.0'), name: String(parsed.name ?? first), plugins: parsed.plugins }
    : { cniVersion: String(parsed.cniVersion ?? '1.0.0'), name: String(parsed.name ?? first), plugins: [parsed as ConfList['plugins'][number]] };
  return { file, list };
}

function resultIp(result: unknown): string {
  const ips = (result as { ips?: Array<{ address?: string }> } | undefined)?.ips;
  const addr = ips?.find((i) => i.address && !i.address.includes(':'))?.address ?? ips?.[0]?.address;
  if (!addr) throw new Error(`the CNI result has no IP address: ${JSON.stringify(result)}`);
  return addr.split('/')[0] ?? addr;
}

/** What pod `k` of `node` is called: its name, its namespace and the container ID the runtime gives it. */
export function podNames(node: LabNode, k: number): Pick<LabPod, 'name' | 'node' | 'ns' | 'containerId'> {
  const name = `${node.name}-pod${k}`;
  return { name, node: node.name, ns: `${node.ns}-p${k}`, containerId: `lab-${name}` };
}

/**
 * Creates pod `k` of `node`. Without `cniPath`, as the node's runtime does: the first config of its
 * conf dir, its bin dir as CNI_PATH (prepareNodeCni made them); with `cniPath`, the shipped conflist
 * through the plugins there (for clusters built without the lab command).
 */
export function addLabPod(cluster: Cluster, node: LabNode, k: number, cniPath?: string): LabPod {
  const { name, ns, containerId } = podNames(node, k);
  const list = cniPath === undefined ? nodeRuntimeConfList(node).list : nodeConfList(node);
  const path = cniPath ?? nodeCniDirs(node).outside.binDir;
  Netns.create(ns);
  const result = cniAdd(list, { containerId, netnsPath: `/var/run/netns/${ns}`, ifName: 'eth0', cniPath: path, hostNetns: node.ns });
  startEchoServer(ns);
  return { name, node: node.name, ns, ip: resultIp(result), containerId };
}

/** addLabPod (through the node's runtime config) without blocking, for creating many pods side by side. */
export async function addLabPodAsync(node: LabNode, k: number): Promise<LabPod> {
  const { name, ns, containerId } = podNames(node, k);
  const list = nodeRuntimeConfList(node).list;
  // Not Netns.create: a synchronous fork of this process per pod would hold up the other pods' steps.
  const made = await run(['ip', 'netns', 'add', ns]);
  if (made.code !== 0) throw new Error(`ip netns add ${ns} failed: ${made.stderr.trim() || `exit ${made.code ?? 'by a signal'}`}`);
  const result = await cniAddAsync(list, { containerId, netnsPath: `/var/run/netns/${ns}`, ifName: 'eth0', cniPath: nodeCniDirs(node).outside.binDir, hostNetns: node.ns });
  await startEchoServerAsync(ns);
  return { name, node: node.name, ns, ip: resultIp(result), containerId };
}

export function deleteLabPod(node: LabNode, pod: LabPod, cniPath: string): void {
  cniDel(nodeConfList(node), { containerId: pod.containerId, netnsPath: `/var/run/netns/${pod.ns}`, ifName: 'eth0', cniPath, hostNetns: node.ns });
  new Netns(pod.ns).delete();
}

export function savePods(stateDir: string, pods: readonly LabPod[]): void {
  writeFileSync(join(stateDir, 'pods.json'), JSON.stringify(pods, null, 2));
}

export function loadPods(stateDir: string): LabPod[] {
  const p = join(stateDir, 'pods.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as LabPod[]) : [];
}
