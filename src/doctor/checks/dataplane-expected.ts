/**
 * @module doctor/checks/dataplane-expected
 * What the kernel should hold for the peers' leases, per backend, as the backends program it
 * (src/backend/<type>/data-plane.ts, compat.md), and which present objects are flannel's:
 * - vxlan: neigh <subnet addr> lladdr <VtepMAC>, fdb <VtepMAC> dst <PublicIP>, route <subnet> via
 *   <subnet addr> dev flannel.<VNI> onlink; DirectRouting and a peer on our L2: route via PublicIP;
 * - host-gw: route <subnet> via <PublicIP> dev <iface>; ipip: ... dev flannel.ipip onlink;
 * - wireguard: a peer with the lease's PublicKey, endpoint PublicIP:Port, allowed-ips the subnet;
 * - udp: one route for the Network via flannel0 (peers live in flanneld's own table).
 */
import type { NetworkConfig } from '../../config/index.ts';
import type { Cidr, Family, IPAddress } from '../../ip/index.ts';
import type { FdbEntry, Neighbor, Route } from '../../kernel/index.ts';
import { describeLease, type Lease } from '../../lease/index.ts';
import { decodeVxlanData } from '../../backend/vxlan/backend-data.ts';
import { planPeers } from '../../backend/wireguard/peers.ts';
import type { InterfaceChoice, KernelFacts, WireguardDeviceFact, WireguardPeerFact } from '../facts.ts';
import { backendDevices, wireguardDevices, type BackendView } from './backend-view.ts';
import { families, linkByName, mainRoutes, networkOf, onLinkPrefixes, publicIPOf, RTPROT_KERNEL, subnetOf } from './common.ts';

export type Want =
  | { readonly kind: 'route'; readonly peer: string; readonly dst: Cidr; readonly gateway?: IPAddress; readonly linkIndex: number; readonly dev: string; readonly onlink: boolean }
  | { readonly kind: 'neigh'; readonly peer: string; readonly ip: IPAddress; readonly mac: string; readonly linkIndex: number; readonly dev: string }
  | { readonly kind: 'fdb'; readonly peer: string; readonly mac: string; readonly dst: IPAddress; readonly linkIndex: number; readonly dev: string }
  | { readonly kind: 'wgpeer'; readonly peer: string; readonly dev: string; readonly publicKey: string; readonly endpoint: string; readonly allowed: readonly Cidr[] };

export interface PlaneContext {
  readonly kernel: KernelFacts;
  readonly config: NetworkConfig;
  readonly view: BackendView;
  readonly iface: InterfaceChoice;
  readonly own?: Lease;
  readonly peers: readonly Lease[];
  readonly wireguard?: readonly WireguardDeviceFact[];
}

export interface Expected {
  readonly wants: Want[];
  /** Per-peer problems that leave it without a data plane ("peer ... has VNI 2, ours is 1"). */
  readonly problems: string[];
  /** Peers of another backend type: not programmed (leases.backend-type reports them). */
  readonly otherType: number;
  /** Set when a device the wants need is missing (dataplane.device reports it). */
  readonly missingDevice?: string;
}

export function endpointText(ip: IPAddress, port: number): string {
  return ip.family === 6 ? `[${ip.toString()}]:${port}` : `${ip.toString()}:${port}`;
}

export function expectedObjects(ctx: PlaneContext): Expected {
  const { kernel, config, view, iface } = ctx;
  const out: Expected = { wants: [], problems: [], otherType: 0 };
  const wants = out.wants;
  const sameType = ctx.peers.filter((p) => p.attrs.backendType === view.type);
  const otherType = ctx.peers.length - sameType.length;
  const fams = families(config);
  const onLink = new Map(fams.map((f) => [f, onLinkPrefixes(kernel, iface.index, f)] as const));
  const isOnLink = (ip: IPAddress): boolean => (onLink.get(ip.family) ?? []).some((c) => c.contains(ip));
  const directRoute = (peer: string, subnet: Cidr, pub: IPAddress): Want => ({ kind: 'route', peer, dst: subnet, gateway: pub, linkIndex: iface.index, dev: iface.name, onlink: false });
  const devices = backendDevices(view, config);
  const device = (family: Family): { name: string; index: number } | undefined => {
    const d = devices.find((x) => x.carries.includes(family));
    const link = d ? linkByName(kernel, d.name) : undefined;
    return link ? { name: link.name, index: link.index } : undefined;
  };
  let missingDevice: string | undefined;

  if (view.vxlan) {
    const vni = view.vxlan.vni;
    for (const p of sameType) {
      const peer = describeLease(p);
      for (const family of fams) {
        const subnet = subnetOf(p, family);
        const pub = publicIPOf(p, family);
        if (!subnet || !pub) continue;
        if (view.vxlan.directRouting && isOnLink(pub)) {
          wants.push(directRoute(peer, subnet, pub));
          continue;
        }
        const data = decodeVxlanData(family === 4 ? p.attrs.backendData : p.attrs.backendV6Data);
        if ('problem' in data) {
          out.problems.push(`peer ${peer} has unusable ${family === 4 ? 'BackendData' : 'BackendV6Data'} (${data.problem})`);
          continue;
        }
        if (data.vni !== vni) out.problems.push(`peer ${peer} has VNI ${data.vni}, ours is ${vni}: VXLAN packets between us are dropped`);
        const dev = device(family);
        if (!dev) {
          missingDevice = devices.find((d) => d.carries.includes(family))?.name;
          continue;
        }
        wants.push(
          { kind: 'neigh', peer, ip: subnet.ip, mac: data.vtepMac, linkIndex: dev.index, dev: dev.name },
          { kind: 'fdb', peer, mac: data.vtepMac, dst: pub, linkIndex: dev.index, dev: dev.name },
          { kind: 'route', peer, dst: subnet, gateway: subnet.ip, linkIndex: dev.index, dev: dev.name, onlink: true },
        );
      }
    }
  } else if (view.type === 'host-gw' || view.ipip) {
    for (const p of sameType) {
      const peer = describeLease(p);
      for (const family of view.ipip ? ([4] as const) : fams) {
        const subnet = subnetOf(p, family);
        const pub = publicIPOf(p, family);
        if (!subnet || !pub) continue;
        if (view.type === 'host-gw' || (view.ipip?.directRouting && isOnLink(pub))) {
          if (!isOnLink(pub)) {
            out.problems.push(`peer ${peer} is not on the L2 network of ${iface.name}: host-gw needs every node on one segment`);
            continue;
          }
          wants.push(directRoute(peer, subnet, pub));
          continue;
        }
        const dev = device(4);
        if (!dev) {
          missingDevice = 'flannel.ipip';
          continue;
        }
        wants.push({ kind: 'route', peer, dst: subnet, gateway: pub, linkIndex: dev.index, dev: dev.name, onlink: true });
      }
    }
  } else if (view.wireguard) {
    const local = { v4: ctx.own?.attrs.publicIP, v6: ctx.own?.attrs.publicIPv6 };
    for (const spec of wireguardDevices(view.wireguard, config)) {
      const planned = planPeers(spec, sameType, view.wireguard, { ...(local.v4 ? { v4: local.v4 } : {}), ...(local.v6 ? { v6: local.v6 } : {}) });
      for (const pr of planned.problems) out.problems.push(`peer ${describeLease(pr.lease)} ${pr.why}`);
      for (const peerCfg of planned.peers.values()) {
        const lease = sameType.find((l) => peerCfg.allowedIPs.some((c) => l.subnet?.equals(c) || l.ipv6Subnet?.equals(c)));
        wants.push({
          kind: 'wgpeer',
          peer: lease ? describeLease(lease) : peerCfg.publicKey,
          dev: spec.name,
          publicKey: peerCfg.publicKey,
          endpoint: peerCfg.endpoint ? endpointText(peerCfg.endpoint.ip, peerCfg.endpoint.port) : '',
          allowed: peerCfg.allowedIPs,
        });
      }
      const link = linkByName(kernel, spec.name);
      if (!link) missingDevice = spec.name;
      for (const family of spec.carries) {
        const network = networkOf(config, family);
        if (network && link) wants.push({ kind: 'route', peer: 'the Network', dst: network, linkIndex: link.index, dev: link.name, onlink: false });
      }
    }
  } else if (view.udp) {
    const link = linkByName(kernel, 'flannel0');
    const network = config.v4?.network;
    if (!link) missingDevice = 'flannel0';
    else if (network) wants.push({ kind: 'route', peer: 'the Network', dst: network, linkIndex: link.index, dev: link.name, onlink: false });
  }
  return { ...out, otherType, ...(missingDevice ? { missingDevice } : {}) };
}

export type Present =
  | { readonly kind: 'route'; readonly route: Route }
  | { readonly kind: 'neigh'; readonly neighbor: Neighbor }
  | { readonly kind: 'fdb'; readonly fdb: FdbEntry }
  | { readonly kind: 'wgpeer'; readonly dev: string; readonly peer: WireguardPeerFact };

const ZERO_MAC = '00:00:00:00:00:00';

/** The kernel objects flanneld owns for this backend (what it would delete when no lease wants them). */
export function ownedObjects(ctx: PlaneContext): Present[] {
  const { kernel, config, view, iface, own } = ctx;
  const out: Present[] = [];
  const devices = backendDevices(view, config)
    .map((d) => linkByName(kernel, d.name))
    .filter((l) => l !== undefined);
  const devIndexes = new Set(devices.map((l) => l.index));
  const perPeerDevice = Boolean(view.vxlan || view.ipip);
  for (const family of families(config)) {
    const network = networkOf(config, family);
    const ownSubnet = own ? subnetOf(own, family) : undefined;
    for (const r of mainRoutes(kernel, family)) {
      if (r.protocol === RTPROT_KERNEL || r.type !== 'unicast' || r.linkIndex === undefined) continue;
      const onDevice = perPeerDevice && devIndexes.has(r.linkIndex);
      const direct = r.linkIndex === iface.index && r.gateway !== undefined && network?.containsCidr(r.dst) === true && !(ownSubnet && ownSubnet.overlaps(r.dst));
      if ((onDevice || direct) && view.type !== 'udp' && view.type !== 'extension' && view.type !== 'alloc') out.push({ kind: 'route', route: r });
    }
  }
  if (view.vxlan) {
    for (const n of kernel.neighbors) if (devIndexes.has(n.linkIndex) && n.state === 'permanent') out.push({ kind: 'neigh', neighbor: n });
    for (const e of kernel.fdb) if (devIndexes.has(e.linkIndex) && e.dst && e.mac !== ZERO_MAC) out.push({ kind: 'fdb', fdb: e });
  }
  if (view.wireguard) {
    const names = new Set(devices.map((d) => d.name));
    for (const d of ctx.wireguard ?? []) if (names.has(d.name)) for (const p of d.peers) out.push({ kind: 'wgpeer', dev: d.name, peer: p });
  }
  return out;
}
