/**
 * @module daemon/host-networks
 * The networks this node already reaches directly: the prefixes of its interfaces' addresses
 * and its link-scope routes, on every interface but flannel's own devices and the CNI bridge.
 * A pod subnet overlapping one would shadow it (the seeds' "CIDR overlap with the host LAN").
 */
import type { NetworkConfig } from '../config/index.ts';
import { Cidr, type Family } from '../ip/index.ts';
import { MAIN_TABLE, listRoutes, type Addresses, type Links, type Routes } from '../kernel/index.ts';
import type { HostNetwork } from '../subnet/index.ts';

const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;

/** flannel's devices (flannel.1, flannel-v6.1, flannel-wg, flannel0, ...) and the CNI bridge carry pod subnets, not host networks. */
export function isFlannelDevice(name: string): boolean {
  return name.startsWith('flannel') || name === 'cni0';
}

export async function listHostNetworks(kernel: Links & Addresses & Routes, families: readonly Family[], externalInterface: string): Promise<HostNetwork[]> {
  const names = new Map((await kernel.listLinks()).map((l) => [l.index, l.name]));
  const out = new Map<string, HostNetwork>();
  const add = (cidr: Cidr, linkIndex: number | undefined): void => {
    const device = linkIndex === undefined ? undefined : names.get(linkIndex);
    if (device === undefined || device === 'lo' || isFlannelDevice(device) || cidr.prefix === 0) return;
    const key = `${cidr.toString()} ${device}`;
    if (!out.has(key)) out.set(key, { cidr, device, external: device === externalInterface });
  };
  for (const family of families) {
    for (const a of await kernel.listAddrs(undefined, family)) {
      if (a.scope === RT_SCOPE_HOST || (family === 6 && a.scope === RT_SCOPE_LINK)) continue;
      add(Cidr.of(a.ip, a.prefix), a.linkIndex);
    }
    for (const r of await listRoutes(kernel, family, { table: MAIN_TABLE })) {
      if (r.type !== 'unicast' || r.scope !== RT_SCOPE_LINK || r.gateway) continue;
      add(r.dst, r.linkIndex);
    }
  }
  return [...out.values()];
}

/** Warnings for a Network that overlaps a network of the external interface, naming both and the fix. */
export function underlayOverlapWarnings(config: NetworkConfig, extIfaceName: string, hostNetworks: readonly HostNetwork[]): string[] {
  const out: string[] = [];
  for (const [key, pool] of [['Network', config.v4], ['IPv6Network', config.v6]] as const) {
    if (!pool) continue;
    for (const h of hostNetworks) {
      if (h.device !== extIfaceName || !h.cidr.overlaps(pool.network)) continue;
      out.push(
        `${key} ${pool.network.toString()} overlaps ${h.cidr.toString()}, the network of ${h.device} (the interface flannel uses between nodes): ` +
          `subnets overlapping it are never leased and pods cannot reach hosts in it; choose a ${key} outside it (e.g. ${pool.network.family === 4 ? '10.244.0.0/16' : 'fd00:10:244::/56'}, the same as kubeadm init --pod-network-cidr)`,
      );
    }
  }
  return out;
}
