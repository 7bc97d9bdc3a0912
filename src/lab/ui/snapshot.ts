/**
 * @module lab/ui/snapshot
 * Reads the lab as it is now into a LabSnapshot: its options and pods from the state directory,
 * each node's subnet.env, flanneld and faults, and how each node reaches every other node's pods
 * from the node's own routing table (one `ip -j route` per node, so a 100-node lab stays cheap).
 */
import { readFileSync } from 'node:fs';
import { Cidr } from '../../ip/index.ts';
import { parseSubnetEnv } from '../../subnetenv/index.ts';
import { labBackend } from '../backends.ts';
import { UNDERLAY, nodeMachine, nodeSubnet, type Cluster, type LabNode } from '../cluster.ts';
import { injectedOn } from '../faults.ts';
import type { LabPod } from '../lab-pods.ts';
import { lastReport } from '../verify.ts';
import { decideLink, parseAllowedIps, type JsonRoute } from './links.ts';
import type { LabSnapshot, SnapshotDoctor, SnapshotLink, SnapshotMatrix, SnapshotNode } from './snapshot-types.ts';

/** The last `lab up`/`lab check` (matrix.json), or an empty one. */
export function readMatrix(stateDir: string): SnapshotMatrix {
  const r = lastReport(stateDir);
  return r ? { at: r.at, mode: r.mode, total: r.total, cells: r.cells, nodes: r.nodes } : { at: null, mode: 'all', total: 0, cells: [], nodes: [] };
}

function subnetOf(node: LabNode): { subnet?: string; mtu?: number } {
  const subnet = nodeSubnet(node);
  if (!subnet) return {};
  try {
    return { subnet, mtu: parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile).mtu };
  } catch {
    return { subnet };
  }
}

function routesOf(node: LabNode): JsonRoute[] {
  try {
    return nodeMachine(node).ns.ipJson<JsonRoute[]>(['-4', 'route', 'show', 'table', 'main']);
  } catch {
    return [];
  }
}

function wireguardPeersOf(node: LabNode): ReturnType<typeof parseAllowedIps> {
  try {
    return parseAllowedIps(nodeMachine(node).exec('wg', ['show', 'flannel-wg', 'allowed-ips']));
  } catch {
    return [];
  }
}

export interface SnapshotOptions {
  readonly doctor?: SnapshotDoctor | null;
}

export function readSnapshot(cluster: Cluster, pods: readonly LabPod[], o: SnapshotOptions = {}): LabSnapshot {
  const nc = cluster.spec.netconf as { Network?: string; EnableNFTables?: boolean; Backend?: { Type?: string; DirectRouting?: boolean } };
  const backendType = nc.Backend?.Type ?? 'vxlan';
  const backend = labBackend(backendType);
  const nodes: SnapshotNode[] = cluster.nodes.map((node) => {
    let faults: string[];
    try {
      faults = injectedOn(node).map((i) => i.fault);
    } catch {
      faults = [];
    }
    return {
      name: node.name,
      ns: node.ns,
      underlayIP: node.underlayIP,
      ...subnetOf(node),
      identity: { title: backend?.identity.title ?? 'TUNNEL', value: backend?.identity.read(nodeMachine(node)) ?? '-' },
      flanneld: cluster.flanneldPid(node) === undefined ? 'stopped' : 'running',
      faults,
    };
  });
  const links: SnapshotLink[] = [];
  for (const node of cluster.nodes) {
    const routes = routesOf(node);
    const wireguardPeers = backendType === 'wireguard' ? wireguardPeersOf(node) : undefined;
    for (const peer of nodes) {
      if (peer.name === node.name || !peer.subnet) continue;
      const subnet = Cidr.parse(peer.subnet);
      links.push(decideLink({ from: node.name, to: peer.name, subnet, peerUnderlayIP: peer.underlayIP, routes, ...(wireguardPeers ? { wireguardPeers } : {}) }));
    }
  }
  return {
    lab: {
      name: cluster.spec.prefix,
      backend: backendType,
      directRouting: nc.Backend?.DirectRouting === true,
      nftables: nc.EnableNFTables === true,
      network: nc.Network ?? '',
      etcd: cluster.etcdEndpoints,
      underlay: `${UNDERLAY.gateway.replace(/\.\d+$/, '.0')}/${UNDERLAY.prefix}`,
      stateDir: cluster.spec.stateDir,
    },
    nodes,
    pods: pods.map((p) => ({ name: p.name, node: p.node, ns: p.ns, ip: p.ip })),
    links,
    matrix: readMatrix(cluster.spec.stateDir),
    doctor: o.doctor ?? null,
    takenAt: new Date().toISOString(),
  };
}

/** The snapshot without when it was taken: two equal keys are the same lab, and the page is not sent it again. */
export function snapshotKey(s: LabSnapshot): string {
  return JSON.stringify({ ...s, takenAt: '' });
}
