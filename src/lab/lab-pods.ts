/**
 * @module lab/lab-pods
 * Pods of the lab, created the way kubelet creates them: a network namespace per pod, then the
 * shipped conflist (flannel → bridge + host-local, then portmap) run through the real plugins.
 * Each node gets its own subnet.env, plugin dataDir and host-local dataDir, because all lab nodes
 * share one root file system.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, LabNode } from './cluster.ts';
import { cniAdd, cniDel, type ConfList } from './cni-runtime.ts';
import { Netns } from './netns.ts';
import { startEchoServer } from './probe.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHIPPED_CONFLIST = join(ROOT, 'deploy/cni/10-flannel.conflist');
const DEBIAN_CNI_DIR = '/usr/lib/cni';

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
  const target = join(dir, 'flannel');
  rmSync(target, { force: true });
  const compiled = join(ROOT, 'dist/bin/flannel');
  if (existsSync(compiled)) {
    symlinkSync(compiled, target);
  } else {
    const entry = import.meta.url.endsWith('.ts') ? `--import tsx ${join(ROOT, 'src/cli/flannel-cni.ts')}` : join(ROOT, 'dist/cli/flannel-cni.js');
    writeFileSync(target, `#!/bin/sh\ncd ${ROOT} && exec ${process.execPath} ${entry}\n`);
    chmodSync(target, 0o755);
  }
  return `${dir}:${DEBIAN_CNI_DIR}`;
}

function resultIp(result: unknown): string {
  const ips = (result as { ips?: Array<{ address?: string }> } | undefined)?.ips;
  const addr = ips?.find((i) => i.address && !i.address.includes(':'))?.address ?? ips?.[0]?.address;
  if (!addr) throw new Error(`the CNI result has no IP address: ${JSON.stringify(result)}`);
  return addr.split('/')[0] ?? addr;
}

export function addLabPod(cluster: Cluster, node: LabNode, k: number, cniPath: string): LabPod {
  const name = `${node.name}-pod${k}`;
  const ns = `${node.ns}-p${k}`;
  Netns.create(ns);
  const containerId = `lab-${name}`;
  const result = cniAdd(nodeConfList(node), { containerId, netnsPath: `/var/run/netns/${ns}`, ifName: 'eth0', cniPath, hostNetns: node.ns });
  startEchoServer(ns);
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
