/**
 * @module backend/wireguard/config
 * The wireguard keys of the Backend section, with upstream's defaults and meaning:
 * - PSK: a pre-shared key for every peer (base64, 32 bytes, as `wg genpsk` prints it);
 * - ListenPort (51820) / ListenPortV6 (51821): the UDP ports of the IPv4 / IPv6 devices;
 * - PersistentKeepaliveInterval: seconds between keepalives, 0 (default) for none;
 * - Mode: `separate` (default: flannel-wg for IPv4, flannel-wg-v6 for IPv6), `auto` (one device,
 *   flannel-wg, for both families; peers reached over IPv6 when they have it), `ipv4` / `ipv6`
 *   (one device, peers reached over that family only);
 * - MTU: the underlay MTU to start from (default: the external interface's); the device gets
 *   that minus WireGuard's 80 bytes.
 * Plus this implementation's own `Implementation` (`auto`, `kernel`, `userspace`), see index.ts.
 */
import { z } from 'zod';
import { parsePresharedKey, ZERO_KEY } from '../../wireguard/keys.ts';
import { parseBackendKeys, rule } from '../backend-config.ts';

export type WireguardMode = 'separate' | 'auto' | 'ipv4' | 'ipv6';
export type WireguardImplementation = 'auto' | 'kernel' | 'userspace';

export interface WireguardConfig {
  /** Base64, as given. */
  readonly psk?: string;
  readonly listenPort: number;
  readonly listenPortV6: number;
  readonly persistentKeepaliveInterval: number;
  readonly mode: WireguardMode;
  readonly mtu?: number;
  readonly implementation: WireguardImplementation;
}

export const WIREGUARD_OVERHEAD = 80;
export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_LISTEN_PORT_V6 = 51821;
/** The smallest underlay MTU that leaves the device the IPv4 minimum of 68 (IPv6 wants 1280 of the device). */
const MIN_MTU = 68 + WIREGUARD_OVERHEAD;

const port = z.number().int().min(1).max(65535);

const RULES = {
  // Checked by parsePresharedKey, whose message never prints a (maybe secret) key whole.
  PSK: rule(z.unknown(), 'a pre-shared key'),
  ListenPort: rule(port, 'a UDP port number from 1 to 65535'),
  ListenPortV6: rule(port, 'a UDP port number from 1 to 65535'),
  PersistentKeepaliveInterval: rule(z.number().int().min(0).max(65535), 'a whole number of seconds from 0 (off) to 65535'),
  Mode: rule(z.enum(['separate', 'auto', 'ipv4', 'ipv6']), 'one of "separate", "auto", "ipv4", "ipv6"'),
  MTU: rule(z.number().int().min(MIN_MTU).max(65535), `a whole number from ${MIN_MTU} to 65535 (the underlay MTU, before WireGuard's ${WIREGUARD_OVERHEAD} bytes are taken off)`),
  Implementation: rule(z.enum(['auto', 'kernel', 'userspace']), 'one of "auto" (kernel WireGuard when the kernel has it, else wireguard-go), "kernel", "userspace"'),
};

export function parseWireguardConfig(raw: Readonly<Record<string, unknown>>): { config: WireguardConfig; warnings: string[] } {
  const { values: v, warnings } = parseBackendKeys(raw, 'wireguard', RULES);
  const psk = v.PSK === undefined ? undefined : parsePresharedKey(v.PSK, 'Backend.PSK');
  if (psk === ZERO_KEY) warnings.push('Backend.PSK is all zero bits: that is no pre-shared key at all; generate one with "wg genpsk"');
  const config: WireguardConfig = {
    ...(psk !== undefined ? { psk } : {}),
    listenPort: v.ListenPort ?? DEFAULT_LISTEN_PORT,
    listenPortV6: v.ListenPortV6 ?? DEFAULT_LISTEN_PORT_V6,
    persistentKeepaliveInterval: v.PersistentKeepaliveInterval ?? 0,
    mode: v.Mode ?? 'separate',
    ...(v.MTU !== undefined ? { mtu: v.MTU } : {}),
    implementation: v.Implementation ?? 'auto',
  };
  return { config, warnings };
}
