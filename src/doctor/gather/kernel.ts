/**
 * @module doctor/gather/kernel
 * The kernel's network state doctor compares with the leases: links, addresses, the main table's
 * routes (both families), and the neighbour and FDB entries of flannel's devices. Read-only.
 */
import { release } from 'node:os';
import { listFdb, listNeighbors, listRoutes, type Addresses, type Fdb, type Link, type Links, type Neighbors, type Routes } from '../../kernel/index.ts';
import type { KernelFacts } from '../facts.ts';

/** The listing capabilities gathering uses. */
export type KernelReader = Links & Addresses & Routes & Neighbors & Fdb;

/** flannel's devices: flannel.<VNI>, flannel-v6.<VNI>, flannel-wg(-v6), flannel.ipip, flannel0 (udp). */
export function isFlannelDevice(link: Pick<Link, 'name'>): boolean {
  return /^flannel/.test(link.name);
}

export async function gatherKernel(kernel: KernelReader): Promise<KernelFacts> {
  const [links, addrs, routes4, routes6] = await Promise.all([kernel.listLinks(), kernel.listAddrs(), listRoutes(kernel, 4), listRoutes(kernel, 6)]);
  const flannel = links.filter(isFlannelDevice);
  const [neighbors, fdb] = await Promise.all([
    Promise.all(flannel.flatMap((l) => [listNeighbors(kernel, l.index, 4), listNeighbors(kernel, l.index, 6)])).then((r) => r.flat()),
    Promise.all(flannel.filter((l) => l.kind === 'vxlan').map((l) => listFdb(kernel, l.index))).then((r) => r.flat()),
  ]);
  return { links, addrs, routes: [...routes4, ...routes6], neighbors, fdb, release: release() };
}
