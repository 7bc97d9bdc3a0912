/**
 * @module backend/udp/device
 * flannel0 as upstream sets it up: the lease's network address as a /32 (a source address for
 * host-to-pod traffic that needs no broadcast route), MTU = external MTU − 28 (IPv4 + UDP
 * headers), up, and one route for the whole Network through it. Idempotent: what is already
 * right is left alone, and what was not is named, so a repair can say what it fixed.
 */
import type { Cidr } from '../../ip/index.ts';
import { MAIN_TABLE, replaceAddrs, type Addresses, type Links, type Routes } from '../../kernel/index.ts';

export type DeviceKernel = Links & Addresses & Routes;

/** IPv4 header + UDP header: what the encapsulation takes off the external MTU. */
export const UDP_OVERHEAD = 28;

export interface TunDeviceSpec {
  readonly name: string;
  readonly mtu: number;
  /** The lease's subnet: its network address goes on the device as a /32. */
  readonly subnet: Cidr;
  readonly network: Cidr;
}

/** What was not as it should be (and now is): "MTU", "address", "up", "route"; undefined when the device does not exist. */
export async function ensureTunDevice(kernel: DeviceKernel, spec: TunDeviceSpec): Promise<string[] | undefined> {
  const link = await kernel.getLink(spec.name);
  if (!link) return undefined;
  const fixed: string[] = [];
  if (link.mtu !== spec.mtu) {
    await kernel.setLinkMtu(link.index, spec.mtu);
    fixed.push('MTU');
  }
  const addrs = await replaceAddrs(kernel, link.index, 4, [{ ip: spec.subnet.ip, prefix: 32 }]);
  if (addrs.added.length > 0 || addrs.removed.length > 0) fixed.push('address');
  if (!link.up) {
    await kernel.setLinkUp(link.index);
    fixed.push('up');
  }
  let routed = false;
  await kernel.scanRoutes(4, (r) => void (routed ||= r.dst.equals(spec.network) && r.linkIndex === link.index && r.gateway === undefined), { linkIndex: link.index, table: MAIN_TABLE });
  if (!routed) {
    await kernel.replaceRoute({ dst: spec.network, linkIndex: link.index, table: MAIN_TABLE });
    fixed.push('route');
  }
  return fixed;
}
