/**
 * @module wireguard/types
 * The one seam both WireGuard data paths implement: kernel WireGuard over generic netlink
 * (genetlink.ts) and wireguard-go over its UAPI socket (uapi.ts). Keys are base64 here, as flannel
 * and `wg` print them; each implementation converts to what its wire wants.
 */
import type { Cidr, IPAddress } from '../ip/index.ts';

export interface WireguardEndpoint {
  readonly ip: IPAddress;
  readonly port: number;
}

export interface WireguardPeerConfig {
  /** Base64. Identifies the peer. */
  readonly publicKey: string;
  /** Base64; the all-zero key removes a pre-shared key. Left as it is when absent. */
  readonly presharedKey?: string;
  readonly endpoint?: WireguardEndpoint;
  /** Added to the peer's allowed IPs (or replacing them with `replaceAllowedIPs`). */
  readonly allowedIPs: readonly Cidr[];
  /** Drop the peer's current allowed IPs first, so it ends with exactly `allowedIPs`. */
  readonly replaceAllowedIPs?: boolean;
  /** Seconds between keepalives, 0 for none. Left as it is when absent. */
  readonly persistentKeepalive?: number;
  /** Remove this peer (everything else in the entry is then ignored). */
  readonly remove?: boolean;
}

export interface WireguardDeviceConfig {
  /** Base64. Left as it is when absent. */
  readonly privateKey?: string;
  /** UDP port; 0 picks a random one. Left as it is when absent. */
  readonly listenPort?: number;
  /** Remove every peer not in `peers` (all peers are removed first, then `peers` added). */
  readonly replacePeers?: boolean;
  readonly peers: readonly WireguardPeerConfig[];
}

export interface WireguardPeerState {
  /** Base64. */
  readonly publicKey: string;
  /** Base64; absent when the peer has none (the all-zero key). */
  readonly presharedKey?: string;
  readonly endpoint?: WireguardEndpoint;
  readonly allowedIPs: readonly Cidr[];
  /** Seconds, 0 when off. */
  readonly persistentKeepalive: number;
  /** Unix time in seconds of the latest handshake; 0 when there was none. */
  readonly lastHandshakeSec: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface WireguardDeviceState {
  /** Base64, derived from the device's private key; absent when it has no private key yet. */
  readonly publicKey?: string;
  /** 0 when the device has no port yet. */
  readonly listenPort: number;
  readonly peers: readonly WireguardPeerState[];
}

/** Configures and reads one WireGuard device by name. */
export interface WireguardControl {
  /** Which data path this is, for log lines: "kernel" or "userspace". */
  readonly kind: 'kernel' | 'userspace';
  /** Applies `config` to `device`; throws a BackendError saying what the device refused. */
  configure(device: string, config: WireguardDeviceConfig, signal?: AbortSignal): Promise<void>;
  /** The device's state, or undefined when there is no such device. */
  get(device: string, signal?: AbortSignal): Promise<WireguardDeviceState | undefined>;
}
