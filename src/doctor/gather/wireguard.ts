/**
 * @module doctor/gather/wireguard
 * The WireGuard devices flanneld made (flannel-wg, flannel-wg-v6): public keys, port, peers.
 * wireguard-go answers on its UAPI socket, kernel WireGuard over generic netlink. Private keys
 * are never read into the facts (the device state carries none).
 */
import { GenetlinkControl, NetlinkGenlTransport, UapiControl, formatEndpoint, type WireguardDeviceState } from '../../wireguard/index.ts';
import type { Link } from '../../kernel/index.ts';
import type { WireguardDeviceFact } from '../facts.ts';
import { reachablePath } from './paths.ts';

export const WIREGUARD_DEVICES = ['flannel-wg', 'flannel-wg-v6'] as const;
const SOCKET_DIR = '/var/run/wireguard';

export function toFact(name: string, s: WireguardDeviceState): WireguardDeviceFact {
  return {
    name,
    ...(s.publicKey ? { publicKey: s.publicKey } : {}),
    ...(s.listenPort ? { listenPort: s.listenPort } : {}),
    peers: s.peers.map((p) => ({
      publicKey: p.publicKey,
      ...(p.endpoint ? { endpoint: formatEndpoint(p.endpoint) } : {}),
      allowedIps: p.allowedIPs.map(String),
      presharedKey: p.presharedKey !== undefined,
    })),
  };
}

async function readDevice(name: string, pid: number | undefined, kernel: () => GenetlinkControl): Promise<WireguardDeviceFact> {
  const socket = await reachablePath(`${SOCKET_DIR}/${name}.sock`, pid);
  const userspace = new UapiControl({ socketDir: socket.slice(0, socket.lastIndexOf('/')) });
  const state = (await userspace.get(name)) ?? (await kernel().get(name));
  if (!state) throw new Error(`${name} exists but neither wireguard-go (${socket}) nor kernel WireGuard answers for it`);
  return toFact(name, state);
}

/** The state of every flannel WireGuard device among `links`; [] when there is none. */
export async function gatherWireguard(links: readonly Link[], pid: number | undefined): Promise<WireguardDeviceFact[]> {
  const names = links.map((l) => l.name).filter((n) => (WIREGUARD_DEVICES as readonly string[]).includes(n));
  if (names.length === 0) return [];
  let genl: GenetlinkControl | undefined;
  const kernel = (): GenetlinkControl => (genl ??= new GenetlinkControl(new NetlinkGenlTransport()));
  try {
    return await Promise.all(names.map((n) => readDevice(n, pid, kernel)));
  } finally {
    genl?.close();
  }
}
