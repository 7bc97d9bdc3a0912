/**
 * @module backend/vxlan/vtep
 * One VXLAN endpoint per IP family: the device spec derived from the config and the external
 * interface, and the state that must survive re-creation (the MAC in our lease, the address).
 */
import type { NetworkConfig } from '../../config/index.ts';
import { BackendError } from '../../errors/index.ts';
import type { Family } from '../../ip/index.ts';
import { replaceAddrs, type Addresses, type AddrSpec, type Link, type Links, type Mac } from '../../kernel/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { ExternalInterface } from '../backend.ts';
import type { VxlanConfig } from './config.ts';
import type { VxlanDeviceSpec } from './device.ts';

/** Outer Ethernet + IP + UDP + VXLAN headers: 14 + 20 + 8 + 8 over IPv4, 14 + 40 + 8 + 8 over IPv6. */
export const VXLAN_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };

export interface Vtep {
  readonly spec: VxlanDeviceSpec;
  index: number;
  /** Advertised in our lease: never changes once the lease is acquired. */
  mac: Mac;
  /** The lease subnet's network address as /32 (/128); set once the lease is known. */
  address?: AddrSpec;
}

export function vtepSpecs(cfg: VxlanConfig, config: NetworkConfig, ext: ExternalInterface): VxlanDeviceSpec[] {
  const underlay = cfg.mtu ?? ext.mtu;
  const families: Family[] = [...(config.enableIPv4 ? [4 as const] : []), ...(config.enableIPv6 ? [6 as const] : [])];
  return families.map((family) => {
    const local = family === 4 ? ext.ifaceAddr : ext.ifaceV6Addr;
    return {
      name: family === 4 ? `flannel.${cfg.vni}` : `flannel-v6.${cfg.vni}`,
      family,
      vni: cfg.vni,
      port: cfg.port,
      ...(local ? { local } : {}),
      linkIndex: ext.index,
      learning: cfg.learning,
      gbp: cfg.gbp,
      mtu: underlay - VXLAN_OVERHEAD[family],
    };
  });
}

export function vtepAddress(lease: Lease, family: Family): AddrSpec {
  const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
  if (!subnet) throw new BackendError('E_VXLAN_NO_SUBNET', `the lease has no IPv${family} subnet although IPv${family} is enabled`);
  return { ip: subnet.ip, prefix: subnet.ip.bits };
}

/** Gives the device exactly its one address (a stale one from an earlier lease goes, ff#1850) and brings it up. */
export async function configureVtep(kernel: Addresses & Links, vtep: Vtep, link: Link, log: Logger): Promise<void> {
  const { name, family } = vtep.spec;
  if (vtep.address) {
    const want = vtep.address;
    const changes = await replaceAddrs(kernel, link.index, family, [want]);
    const text = (a: AddrSpec): string => `${a.ip.toString()}/${a.prefix}`;
    if (changes.removed.length > 0) log.info(`replaced stale address ${changes.removed.map(text).join(', ')} on ${name} with ${text(want)}`);
    else if (changes.added.length > 0) log.info(`added address ${text(want)} to ${name}`);
  }
  // Onlink routes through a down device are refused (ENETDOWN), so this comes before any peer.
  if (!link.up) await kernel.setLinkUp(link.index);
}
