/**
 * @module backend/wireguard/peers
 * What each WireGuard device should hold for the peers' leases, and the changes that take a
 * device from what it holds to that. Pure functions: the data plane applies the changes.
 *
 * Per peer (as upstream): endpoint = the peer's public address and port from its BackendData,
 * AllowedIPs = the peer's pod subnet(s), the PSK and the keepalive of the Backend section.
 */
import { Cidr, type IPAddress } from '../../ip/index.ts';
import type { Lease } from '../../lease/index.ts';
import { ZERO_KEY } from '../../wireguard/keys.ts';
import type { WireguardDeviceState, WireguardEndpoint, WireguardPeerConfig } from '../../wireguard/types.ts';
import { decodeWireguardData } from './backend-data.ts';
import type { WireguardConfig } from './config.ts';

/** One device and what it carries: one family (mode separate, ipv4, ipv6) or both (auto). */
export interface DeviceSpec {
  readonly name: string;
  /** The pod subnets it carries. */
  readonly carries: ReadonlyArray<4 | 6>;
  /** How peers are reached: over IPv4, IPv6, or IPv6 when the peer has it (auto). */
  readonly endpoint: 4 | 6 | 'auto';
  readonly listenPort: number;
}

export const DEVICE_V4 = 'flannel-wg';
export const DEVICE_V6 = 'flannel-wg-v6';

/** The devices for a mode and the enabled families, as upstream names them. */
export function deviceSpecs(cfg: WireguardConfig, families: { v4: boolean; v6: boolean }): DeviceSpec[] {
  const both: Array<4 | 6> = [...(families.v4 ? [4 as const] : []), ...(families.v6 ? [6 as const] : [])];
  switch (cfg.mode) {
    case 'separate':
      return [
        ...(families.v4 ? [{ name: DEVICE_V4, carries: [4 as const], endpoint: 4 as const, listenPort: cfg.listenPort }] : []),
        ...(families.v6 ? [{ name: DEVICE_V6, carries: [6 as const], endpoint: 6 as const, listenPort: cfg.listenPortV6 }] : []),
      ];
    case 'ipv4':
      return [{ name: DEVICE_V4, carries: both, endpoint: 4, listenPort: cfg.listenPort }];
    case 'ipv6':
      // As upstream: the one device listens on ListenPort whatever family reaches it.
      return [{ name: DEVICE_V4, carries: both, endpoint: 6, listenPort: cfg.listenPort }];
    case 'auto':
      return [{ name: DEVICE_V4, carries: both, endpoint: 'auto', listenPort: cfg.listenPort }];
  }
}

export interface PeerPlanResult {
  /** By public key. */
  readonly peers: ReadonlyMap<string, WireguardPeerConfig>;
  /** Leases that give this device no peer, with why (completing "peer <subnet> at <ip> ..."). */
  readonly problems: ReadonlyArray<{ readonly lease: Lease; readonly why: string }>;
}

/** The peers `device` should have for `leases` (the other nodes' leases). */
/** This node's own addresses on the external interface: mode auto picks a peer's endpoint family by them. */
export interface LocalAddresses {
  readonly v4?: IPAddress;
  readonly v6?: IPAddress;
}

/** RFC 1918 for IPv4, unique local (fc00::/7) for IPv6: as upstream's IsPrivate. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map((c) => Cidr.parse(c));
const isPrivate = (ip: IPAddress): boolean => PRIVATE.some((c) => c.contains(ip));

/**
 * Mode auto, as upstream chooses: IPv4 unless the peer has an IPv6 address and IPv4 is unlikely to
 * reach it (its IPv4 address is private, or we have none) while IPv6 likely does (its address and
 * ours are both public).
 */
export function autoEndpointFamily(peer: { publicIP?: IPAddress; publicIPv6?: IPAddress }, local: LocalAddresses): 4 | 6 {
  if (!peer.publicIPv6) return 4;
  if (peer.publicIP && !isPrivate(peer.publicIP) && local.v4) return 4;
  if (!isPrivate(peer.publicIPv6) && local.v6 && !isPrivate(local.v6)) return 6;
  return 4;
}

export function planPeers(device: DeviceSpec, leases: Iterable<Lease>, cfg: WireguardConfig, local: LocalAddresses = {}): PeerPlanResult {
  const peers = new Map<string, WireguardPeerConfig>();
  const problems: Array<{ lease: Lease; why: string }> = [];
  for (const lease of leases) {
    if (lease.attrs.backendType !== 'wireguard') {
      problems.push({ lease, why: `uses backend "${lease.attrs.backendType}", not wireguard: it gets no tunnel` });
      continue;
    }
    const over: 4 | 6 = device.endpoint === 'auto' ? autoEndpointFamily(lease.attrs, local) : device.endpoint;
    const ip = over === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
    // The data of the family the peer is reached over holds the port it listens on there.
    const raw = over === 6 ? (lease.attrs.backendV6Data ?? lease.attrs.backendData) : (lease.attrs.backendData ?? lease.attrs.backendV6Data);
    const data = decodeWireguardData(raw);
    if ('problem' in data) {
      problems.push({ lease, why: `has unusable wireguard BackendData (${data.problem})` });
      continue;
    }
    if (!ip) {
      problems.push({ lease, why: `has no public IPv${over} address to send WireGuard packets to` });
      continue;
    }
    const allowedIPs = device.carries.map((f) => (f === 4 ? lease.subnet : lease.ipv6Subnet)).filter((c): c is Cidr => c !== undefined);
    if (allowedIPs.length === 0) continue;
    const endpoint: WireguardEndpoint = { ip, port: data.port };
    const twin = peers.get(data.publicKey);
    if (twin) {
      problems.push({ lease, why: `has the same public key as the peer at ${twin.endpoint?.ip.toString() ?? '?'} (a cloned VM or a copied key file?): only one of them gets the tunnel` });
      continue;
    }
    peers.set(data.publicKey, {
      publicKey: data.publicKey,
      // Always set: the all-zero key takes away a PSK the Backend section no longer has.
      presharedKey: cfg.psk ?? ZERO_KEY,
      endpoint,
      allowedIPs,
      replaceAllowedIPs: true,
      persistentKeepalive: cfg.persistentKeepaliveInterval,
    });
  }
  return { peers, problems };
}

/**
 * The changes that make `current` hold exactly `desired`: peers added or corrected, peers no one
 * wants removed. An endpoint is corrected only when the device has none: WireGuard follows a
 * peer that roams (behind NAT its packets come from another address), and a periodic check must
 * not undo that; a changed lease is re-applied whole by the caller.
 */
export function peerChanges(current: WireguardDeviceState | undefined, desired: ReadonlyMap<string, WireguardPeerConfig>): WireguardPeerConfig[] {
  const changes: WireguardPeerConfig[] = [];
  const have = new Map((current?.peers ?? []).map((p) => [p.publicKey, p]));
  for (const [key, want] of desired) {
    const p = have.get(key);
    const same =
      p !== undefined &&
      p.endpoint !== undefined &&
      (p.presharedKey ?? ZERO_KEY) === (want.presharedKey ?? ZERO_KEY) &&
      p.persistentKeepalive === (want.persistentKeepalive ?? 0) &&
      sameCidrs(p.allowedIPs, want.allowedIPs);
    if (!same) changes.push(want);
  }
  for (const key of have.keys()) {
    if (!desired.has(key)) changes.push({ publicKey: key, allowedIPs: [], remove: true });
  }
  return changes;
}

function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  const key = (xs: readonly Cidr[]): string => xs.map(String).sort().join(',');
  return key(a) === key(b);
}
