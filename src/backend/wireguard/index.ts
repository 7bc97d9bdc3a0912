/**
 * @module backend/wireguard
 * Pod traffic to other nodes goes through WireGuard: flannel-wg (and flannel-wg-v6 in the
 * default mode "separate"), one peer per node (endpoint its public address and port, AllowedIPs
 * its pod subnet), the device holding the lease's address and one route for the whole Network.
 * The private key lives in /run/flannel/wgkey (WIREGUARD_KEY_FILE), written once and reused, so
 * a restart keeps the public key and no peer needs to change. Kernel WireGuard where the kernel
 * has it, wireguard-go otherwise (data-path.ts).
 *
 * Register: key, lease (its BackendData carries the public key and port), then the devices, each
 * configured in full whenever it (re)appears. Run: peers follow the leases; every reconcile
 * interval the devices and peers are checked and repaired.
 */
import { BackendError, ConfigError, describeError } from '../../errors/index.ts';
import type { Cidr, Family } from '../../ip/index.ts';
import { MAIN_TABLE, isKernelErrno, replaceAddrs, type Addresses, type Links, type Routes } from '../../kernel/index.ts';
import { describeLease, leaseId, type Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import { watchPeers } from '../../subnet/index.ts';
import { keyFilePath, loadOrCreateKeyFile } from '../../wireguard/key-file.ts';
import type { WireguardPeerConfig } from '../../wireguard/types.ts';
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { DEFAULT_RECONCILE_INTERVAL_MS } from '../reconcile/types.ts';
import { encodeWireguardData } from './backend-data.ts';
import { WIREGUARD_OVERHEAD, parseWireguardConfig, type WireguardConfig } from './config.ts';
import { chooseDataPath, type DataPath, type DataPaths, type DeviceHandle } from './data-path.ts';
import { greetPeers } from './greet.ts';
import { deviceSpecs, peerChanges, planPeers, type DeviceSpec, type LocalAddresses } from './peers.ts';
import { systemDataPaths } from './system-paths.ts';

export { parseWireguardConfig, type WireguardConfig } from './config.ts';
export { decodeWireguardData, encodeWireguardData } from './backend-data.ts';
export { kernelDataPath, type DataPath, type DataPaths } from './data-path.ts';

export interface WireguardInit {
  /** Where the data paths come from (default: this machine's, system-paths.ts; tests pass fakes). */
  readonly paths?: DataPaths;
  /** The private key file (default: WIREGUARD_KEY_FILE, else /run/flannel/wgkey). */
  readonly keyFile?: string;
  /** Time between checks of the devices and peers (default 10 s). */
  readonly reconcileIntervalMs?: number;
  /** Told how to read each wireguard-go supervisor's restart count (metrics read it when scraped). */
  readonly onWireguardGo?: (device: string, restarts: () => number) => void;
}

type DeviceKernel = Links & Addresses & Routes;

export function wireguard(init: WireguardInit = {}): BackendFactory {
  return {
    type: 'wireguard',
    checkConfig: (config) => parseWireguardConfig(config.backend.raw),
    create: ({ subnets, kernel, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        const { undo } = options;
        const { config: cfg, warnings } = parseWireguardConfig(config.backend.raw);
        for (const w of warnings) log.warn(`network config: ${w}`);
        const underlay = cfg.mtu ?? extIface.mtu;
        if (underlay > extIface.mtu) {
          throw new ConfigError('E_BACKEND_CONFIG', `Backend.MTU ${underlay} is larger than the MTU of ${extIface.name} (${extIface.mtu}): WireGuard packets would not fit the underlay`, {
            hint: `set Backend.MTU to at most ${extIface.mtu} (it is meant for paths narrower than the interface, e.g. VPNs), or leave it out`,
          });
        }
        const mtu = underlay - WIREGUARD_OVERHEAD;
        const specs = deviceSpecs(cfg, { v4: config.enableIPv4, v6: config.enableIPv6 });
        log.info(`WireGuard config: Mode=${cfg.mode} ListenPort=${cfg.listenPort}${config.enableIPv6 ? ` ListenPortV6=${cfg.listenPortV6}` : ''} PSK=${cfg.psk ? 'set' : 'none'} PersistentKeepaliveInterval=${cfg.persistentKeepaliveInterval} MTU=${mtu}`);

        const path = await chooseDataPath(cfg.implementation, init.paths ?? systemDataPaths(kernel, init.onWireguardGo ? { onWireguardGo: init.onWireguardGo } : {}), log);
        const keyFile = await loadOrCreateKeyFile(init.keyFile ?? keyFilePath());
        for (const w of keyFile.warnings) log.warn(w);
        log.info(`${keyFile.created ? 'created' : 'reusing'} the WireGuard private key ${keyFile.path}; public key ${keyFile.publicKey}`);

        // As upstream: each enabled family's data, with the port of the device that carries it (one device: the same in both).
        const v4Device = config.enableIPv4 ? specs.find((s) => s.carries.includes(4)) : undefined;
        const v6Device = config.enableIPv6 ? specs.find((s) => s.carries.includes(6)) : undefined;
        const lease = await subnets.acquireLease({
          config,
          attrs: {
            ...baseLeaseAttrs(extIface, config, 'wireguard'),
            ...(v4Device ? { backendData: encodeWireguardData({ publicKey: keyFile.publicKey, port: v4Device.listenPort }) } : {}),
            ...(v6Device ? { backendV6Data: encodeWireguardData({ publicKey: keyFile.publicKey, port: v6Device.listenPort }) } : {}),
          },
          hints,
          signal,
          ...options,
        });

        // The devices live until the daemon stops (wireguard-go is our child): their own signal.
        const devices = new AbortController();
        const local = { ...(extIface.ifaceAddr ? { v4: extIface.ifaceAddr } : {}), ...(extIface.ifaceV6Addr ? { v6: extIface.ifaceV6Addr } : {}) };
        const plane = new WireguardPlane({ kernel, log, path, cfg, config, lease, specs, mtu, privateKey: keyFile.privateKey, devices: devices.signal, local });
        const stopDevices = (): void => devices.abort();
        signal.addEventListener('abort', stopDevices, { once: true });
        const handles: DeviceHandle[] = [];
        for (const spec of specs) {
          const handle = await path.start(spec.name, (s) => plane.configureDevice(spec, s), devices.signal);
          handles.push(handle);
          undo?.add(`remove ${spec.name}`, async () => {
            devices.abort();
            await handle.stopped;
            if (handle.created && path.kind === 'kernel') await kernel.deleteLink(spec.name).catch((err: unknown) => void (isKernelErrno(err, 'ENODEV') || log.warn(`removing ${spec.name}: ${describeError(err)}`)));
          });
        }
        return {
          lease,
          mtu,
          async run(runSignal) {
            try {
              await plane.run(watchPeers(subnets, lease, runSignal, log), runSignal, init.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);
            } finally {
              signal.removeEventListener('abort', stopDevices);
              devices.abort();
              await Promise.all(handles.map((h) => h.stopped));
            }
          },
        };
      },
    }),
  };
}

interface PlaneOptions {
  readonly kernel: DeviceKernel;
  readonly log: Logger;
  readonly path: DataPath;
  readonly cfg: WireguardConfig;
  readonly config: { readonly v4?: { readonly network: Cidr }; readonly v6?: { readonly network: Cidr } };
  readonly lease: Lease;
  readonly specs: readonly DeviceSpec[];
  readonly mtu: number;
  readonly privateKey: string;
  /** Aborts when the devices stop (the daemon stops). */
  readonly devices: AbortSignal;
  readonly local: LocalAddresses;
}

class WireguardPlane {
  readonly #o: PlaneOptions;
  /** The other nodes' leases, by lease id. */
  readonly #peers = new Map<string, Lease>();
  /** Last problems logged per lease id, so a persistent one is not re-logged. */
  readonly #problems = new Map<string, string>();
  #synced = false;

  constructor(o: PlaneOptions) {
    this.#o = o;
  }

  /**
   * Everything a device needs, in full: keys, port, every peer, MTU, address, up, the Network
   * route; then, in the background, a greeting to the peers so they drop their old sessions with it.
   */
  async configureDevice(spec: DeviceSpec, signal: AbortSignal): Promise<void> {
    const { path, privateKey, cfg, log } = this.#o;
    const since = Date.now();
    await path.control.configure(spec.name, { privateKey, listenPort: spec.listenPort, replacePeers: true, peers: [...this.#plan(spec).values()] });
    if (!(await this.#configureLink(spec))) throw new BackendError('E_WIREGUARD_DEVICE', `WireGuard device ${spec.name} vanished while it was being configured`);
    greetPeers({ control: path.control, device: spec.name, keepalive: cfg.persistentKeepaliveInterval, since, signal })
      .then((left) => {
        if (left > 0) log.info(`${spec.name}: ${left} peer(s) did not answer a handshake yet (down, or not reachable on their UDP port?); WireGuard keeps trying`);
      })
      .catch((err: unknown) => {
        if (!signal.aborted) log.warn(`${spec.name}: greeting the peers after the start failed: ${describeError(err)}`);
      });
  }

  /** MTU, the lease's address, up, the Network route (cheap and idempotent); false when there is no such link. */
  async #configureLink(spec: DeviceSpec): Promise<boolean> {
    const { kernel, mtu, log } = this.#o;
    const link = await kernel.getLink(spec.name);
    if (!link) return false;
    if (link.mtu !== mtu) await kernel.setLinkMtu(link.index, mtu);
    for (const family of spec.carries) {
      const subnet = family === 4 ? this.#o.lease.subnet : this.#o.lease.ipv6Subnet;
      if (!subnet) continue;
      const changes = await replaceAddrs(kernel, link.index, family, [{ ip: subnet.ip, prefix: subnet.ip.bits }]);
      if (changes.removed.length > 0) log.info(`replaced stale address ${changes.removed.map((a) => `${a.ip.toString()}/${a.prefix}`).join(', ')} on ${spec.name}`);
    }
    if (!link.up) await kernel.setLinkUp(link.index);
    for (const family of spec.carries) await this.#ensureRoute(link.index, family);
    return true;
  }

  async #ensureRoute(linkIndex: number, family: Family): Promise<void> {
    const network = family === 4 ? this.#o.config.v4?.network : this.#o.config.v6?.network;
    if (network) await this.#o.kernel.replaceRoute({ dst: network, linkIndex, table: MAIN_TABLE });
  }

  #plan(spec: DeviceSpec): Map<string, WireguardPeerConfig> {
    const { peers, problems } = planPeers(spec, this.#peers.values(), this.#o.cfg, this.#o.local);
    const now = new Map<string, string>();
    for (const p of problems) {
      const id = leaseId(p.lease);
      now.set(id, p.why);
      if (this.#problems.get(id) !== p.why) this.#o.log.warn(`peer ${describeLease(p.lease)} ${p.why}`);
    }
    this.#problems.clear();
    for (const [k, v] of now) this.#problems.set(k, v);
    return new Map(peers);
  }

  /** Applies what changed since the device's state was read; `changed` peers are re-applied whole. */
  async #sync(spec: DeviceSpec, changed: ReadonlySet<string>): Promise<void> {
    const { path, log } = this.#o;
    const desired = this.#plan(spec);
    const current = await path.control.get(spec.name);
    if (!current) return; // gone: the periodic check (kernel) or the supervisor (userspace) brings it back
    const changes = peerChanges(current, desired);
    const keys = new Set(changes.map((c) => c.publicKey));
    for (const [key, want] of desired) if (changed.has(key) && !keys.has(key)) changes.push(want);
    if (changes.length === 0) return;
    await path.control.configure(spec.name, { peers: changes });
    const added = changes.filter((c) => !c.remove).length;
    const removed = changes.length - added;
    log.info(`${spec.name}: configured ${added} peer(s)${removed > 0 ? `, removed ${removed}` : ''}`, { device: spec.name, configured: added, removed });
  }

  /** The devices as they should be: a vanished kernel device is created again, then fully configured. */
  async #check(): Promise<void> {
    for (const spec of this.#o.specs) {
      const state = await this.#o.path.control.get(spec.name);
      if (state === undefined) {
        if (this.#o.path.kind !== 'kernel') continue;
        this.#o.log.warn(`WireGuard device ${spec.name} is gone (deleted by hand?): creating it again`);
        await this.#o.path.start(spec.name, (s) => this.configureDevice(spec, s), this.#o.devices);
        continue;
      }
      if (state.publicKey === undefined || state.listenPort !== spec.listenPort) {
        this.#o.log.warn(`WireGuard device ${spec.name} lost its key or port: configuring it again`);
        await this.configureDevice(spec, this.#o.devices);
        continue;
      }
      await this.#configureLink(spec);
      await this.#sync(spec, new Set());
    }
  }

  async run(stream: AsyncIterable<{ events: ReadonlyArray<{ type: 'added' | 'removed'; lease: Lease }>; snapshot: boolean }>, signal: AbortSignal, intervalMs: number): Promise<void> {
    const { log } = this.#o;
    const timer = setInterval(() => {
      if (!this.#synced) return;
      this.#check().catch((err: unknown) => log.warn(`checking the WireGuard devices failed, will retry: ${describeError(err)}`));
    }, intervalMs);
    try {
      for await (const batch of stream) {
        const changed = new Set<string>();
        for (const ev of batch.events) {
          const id = leaseId(ev.lease);
          if (ev.type === 'added') this.#peers.set(id, ev.lease);
          else this.#peers.delete(id);
          const key = publicKeyOfLease(ev.lease);
          if (key && ev.type === 'added') changed.add(key);
        }
        if (batch.snapshot) this.#synced = true;
        if (!this.#synced) continue;
        for (const spec of this.#o.specs) {
          await this.#sync(spec, changed).catch((err: unknown) => log.warn(`configuring peers on ${spec.name} failed, will retry: ${describeError(err)}`));
        }
        if (signal.aborted) break;
      }
    } finally {
      clearInterval(timer);
    }
  }
}

function publicKeyOfLease(lease: Lease): string | undefined {
  for (const d of [lease.attrs.backendData, lease.attrs.backendV6Data]) {
    if (d && typeof d === 'object' && !Array.isArray(d) && typeof d.PublicKey === 'string') return d.PublicKey;
  }
  return undefined;
}
