/**
 * @module doctor/checks/backend-view
 * The configured backend as the checks need it: its parsed keys (with each backend's own parser,
 * so defaults are upstream's), its devices, UDP ports and encapsulation overhead.
 */
import type { NetworkConfig } from '../../config/index.ts';
import type { Family } from '../../ip/index.ts';
import { parseIpipConfig, type IpipConfig } from '../../backend/ipip/config.ts';
import { IPIP_OVERHEAD, TUNNEL_NAME } from '../../backend/ipip/device.ts';
import { parseUdpConfig, type UdpConfig } from '../../backend/udp/config.ts';
import { UDP_OVERHEAD } from '../../backend/udp/device.ts';
import { parseVxlanConfig, type VxlanConfig } from '../../backend/vxlan/config.ts';
import { VXLAN_OVERHEAD } from '../../backend/vxlan/vtep.ts';
import { parseWireguardConfig, WIREGUARD_OVERHEAD, type WireguardConfig } from '../../backend/wireguard/config.ts';
import { deviceSpecs, type DeviceSpec } from '../../backend/wireguard/peers.ts';
import { skip, type CheckResult } from '../check.ts';
import type { KernelFacts, NodeFacts } from '../facts.ts';
import { configOf, errorOf, families, valueOf } from './common.ts';

export const VXLAN_DEFAULT_PORT = 8472;

/** The backend section parsed with the backend's own parser; exactly the member of its type is set. */
export interface BackendView {
  readonly type: string;
  /** A type this build knows (vxlan, host-gw, wireguard, udp, ipip, alloc, extension). */
  readonly known: boolean;
  readonly vxlan?: VxlanConfig;
  readonly wireguard?: WireguardConfig;
  readonly udp?: UdpConfig;
  readonly ipip?: IpipConfig;
}

const KNOWN = new Set(['vxlan', 'host-gw', 'wireguard', 'udp', 'ipip', 'alloc', 'extension']);

/** The backend section parsed, or why it cannot be (a bad key makes flanneld refuse to start). */
export function backendView(config: NetworkConfig): BackendView | { readonly problem: string } {
  const { type, raw } = config.backend;
  try {
    return {
      type,
      known: KNOWN.has(type),
      ...(type === 'vxlan' ? { vxlan: parseVxlanConfig(raw).config } : {}),
      ...(type === 'wireguard' ? { wireguard: parseWireguardConfig(raw).config } : {}),
      ...(type === 'udp' ? { udp: parseUdpConfig(raw).config } : {}),
      ...(type === 'ipip' ? { ipip: parseIpipConfig(raw).config } : {}),
    };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

export interface Device {
  readonly name: string;
  /** The families whose pod traffic it carries (its address is the lease subnet's network address of each). */
  readonly carries: readonly Family[];
  /** Encapsulation overhead subtracted from the underlay MTU. */
  readonly overhead: number;
}

/** The devices flanneld creates for this backend (none for host-gw, alloc, extension). */
export function backendDevices(view: BackendView, config: NetworkConfig): Device[] {
  const { vxlan, wireguard } = view;
  if (vxlan) return families(config).map((f) => ({ name: f === 4 ? `flannel.${vxlan.vni}` : `flannel-v6.${vxlan.vni}`, carries: [f], overhead: VXLAN_OVERHEAD[f] }));
  if (wireguard) return wireguardDevices(wireguard, config).map((d) => ({ name: d.name, carries: d.carries, overhead: WIREGUARD_OVERHEAD }));
  if (view.udp) return [{ name: 'flannel0', carries: [4], overhead: UDP_OVERHEAD }];
  if (view.ipip) return [{ name: TUNNEL_NAME, carries: [4], overhead: IPIP_OVERHEAD }];
  return [];
}

export function wireguardDevices(cfg: WireguardConfig, config: NetworkConfig): DeviceSpec[] {
  return deviceSpecs(cfg, { v4: config.enableIPv4 && config.v4 !== undefined, v6: config.enableIPv6 && config.v6 !== undefined });
}

/** The UDP ports peers send to this node, with what each is for; empty for backends without one. */
export function backendUdpPorts(view: BackendView, config: NetworkConfig): Array<{ port: number; what: string }> {
  if (view.vxlan) {
    const port = view.vxlan.port || VXLAN_DEFAULT_PORT;
    return [{ port, what: `vxlan (UDP ${port})` }];
  }
  if (view.udp) return [{ port: view.udp.port, what: `udp backend (UDP ${view.udp.port})` }];
  if (view.wireguard) return wireguardDevices(view.wireguard, config).map((d) => ({ port: d.listenPort, what: `wireguard ${d.name} (UDP ${d.listenPort})` }));
  return [];
}

/** The underlay MTU the backend starts from: its `MTU` key when set, else the interface's. */
export function underlayMtu(view: BackendView, ifaceMtu: number): { mtu: number; from: string } {
  const mtu = view.vxlan?.mtu ?? view.wireguard?.mtu;
  if (mtu !== undefined) return { mtu, from: 'Backend.MTU' };
  return { mtu: ifaceMtu, from: 'the interface MTU' };
}

/** The config, the backend's view of it and the kernel state, or the skip result saying which is missing. */
export function backendAndKernel(id: string, f: NodeFacts): { readonly config: NetworkConfig; readonly view: BackendView; readonly kernel: KernelFacts } | CheckResult {
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const view = backendView(config);
  if ('problem' in view) return skip(id, `Backend section unusable: ${view.problem}`);
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  return { config, view, kernel };
}
