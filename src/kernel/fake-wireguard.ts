/**
 * @module kernel/fake-wireguard
 * WireGuard configuration in memory, for unit tests of the wireguard backend: the devices are
 * FakeKernel links of kind "wireguard" (configuring a name that is not one fails like the kernel,
 * ENODEV), and configure/get behave as both real data paths do (absent fields left as they are,
 * replace_peers, replace_allowed_ips, remove, the all-zero PSK meaning none).
 */
import { BackendError } from '../errors/index.ts';
import { publicKeyOf, ZERO_KEY } from '../wireguard/keys.ts';
import type { WireguardControl, WireguardDeviceConfig, WireguardDeviceState, WireguardPeerState } from '../wireguard/types.ts';
import type { FakeKernel } from './fake-kernel.ts';

interface DeviceState {
  privateKey?: string;
  listenPort: number;
  peers: Map<string, WireguardPeerState>;
}

export class FakeWireguard implements WireguardControl {
  readonly kind: 'kernel' | 'userspace';
  /** Every configure call, in order (device and config), for assertions. */
  readonly calls: Array<{ device: string; config: WireguardDeviceConfig }> = [];
  readonly #kernel: FakeKernel;
  readonly #devices = new Map<number, DeviceState>();
  #failNext: string | undefined;

  constructor(kernel: FakeKernel, kind: 'kernel' | 'userspace' = 'kernel') {
    this.#kernel = kernel;
    this.kind = kind;
  }

  /** Makes the next configure fail with this message (a device that refuses a setting). */
  failNextConfigure(message: string): void {
    this.#failNext = message;
  }

  async configure(device: string, config: WireguardDeviceConfig): Promise<void> {
    const state = await this.#device(device);
    if (!state) throw new BackendError('E_WIREGUARD_CONFIGURE', `configure WireGuard device ${device}: ENODEV (no such WireGuard device)`);
    if (this.#failNext !== undefined) {
      const message = this.#failNext;
      this.#failNext = undefined;
      throw new BackendError('E_WIREGUARD_CONFIGURE', `configure WireGuard device ${device}: ${message}`);
    }
    this.calls.push({ device, config });
    if (config.privateKey !== undefined) state.privateKey = config.privateKey;
    if (config.listenPort !== undefined) state.listenPort = config.listenPort;
    if (config.replacePeers) state.peers.clear();
    for (const p of config.peers) {
      if (p.remove) {
        state.peers.delete(p.publicKey);
        continue;
      }
      const old = state.peers.get(p.publicKey);
      const psk = p.presharedKey ?? old?.presharedKey;
      const allowed = p.replaceAllowedIPs || !old ? [...p.allowedIPs] : [...old.allowedIPs, ...p.allowedIPs];
      const endpoint = p.endpoint ?? old?.endpoint;
      state.peers.set(p.publicKey, {
        publicKey: p.publicKey,
        ...(psk !== undefined && psk !== ZERO_KEY ? { presharedKey: psk } : {}),
        ...(endpoint ? { endpoint } : {}),
        allowedIPs: allowed,
        persistentKeepalive: p.persistentKeepalive ?? old?.persistentKeepalive ?? 0,
        lastHandshakeSec: old?.lastHandshakeSec ?? 0,
        rxBytes: old?.rxBytes ?? 0,
        txBytes: old?.txBytes ?? 0,
      });
    }
  }

  async get(device: string): Promise<WireguardDeviceState | undefined> {
    const state = await this.#device(device);
    if (!state) return undefined;
    return {
      ...(state.privateKey ? { publicKey: publicKeyOf(state.privateKey) } : {}),
      listenPort: state.listenPort,
      peers: [...state.peers.values()].map((p) => ({ ...p, allowedIPs: [...p.allowedIPs] })),
    };
  }

  /** Damage for repair tests: forgets a peer, as `wg set <dev> peer <key> remove` would. */
  async dropPeer(device: string, publicKey: string): Promise<void> {
    (await this.#device(device))?.peers.delete(publicKey);
  }

  /** The device's state, bound to the link's index: a re-created link starts empty, as in the kernel. */
  async #device(name: string): Promise<DeviceState | undefined> {
    const link = await this.#kernel.getLink(name);
    if (!link || link.kind !== 'wireguard') return undefined;
    let state = this.#devices.get(link.index);
    if (!state) {
      state = { listenPort: 0, peers: new Map() };
      this.#devices.set(link.index, state);
    }
    return state;
  }
}
