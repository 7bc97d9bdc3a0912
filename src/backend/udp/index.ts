/**
 * @module backend/udp
 * Upstream's udp backend, in userspace: pod traffic to other nodes goes through the TUN device
 * flannel0 (the lease's address /32, MTU = external MTU − 28, one route for the whole Network),
 * and each packet read from it is sent as is, as the payload of one UDP datagram, to
 * PublicIP:Port of the peer whose subnet holds its destination; datagrams received on Port go
 * into flannel0. The lease carries only the public IP (upstream's has no BackendData), so
 * upstream flanneld and flannel-ts nodes with Type udp carry each other's pods.
 *
 * Register: socket and device first (a port in use or a missing /dev/net/tun fails before any
 * lease is written), then the lease, then flannel0's address, MTU and route. The device is not
 * persistent: closing it (stop, undo, crash) removes it with its route.
 * Design notes and measurements: README.md beside this file.
 */
import { BackendError, LeaseError } from '../../errors/index.ts';
import type { Cidr } from '../../ip/index.ts';
import type { Lease } from '../../lease/index.ts';
import { watchPeers } from '../../subnet/index.ts';
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { checkUdpFamilies, parseUdpConfig } from './config.ts';
import { ensureTunDevice, UDP_OVERHEAD } from './device.ts';
import { TUN_PATTERN, UDP_BACKEND_TYPE, UdpDataPlane, type UdpStats } from './data-plane.ts';
import { nativeUdpIo, type TunDevice, type UdpIo } from './io.ts';

export { checkUdpFamilies, DEFAULT_UDP_PORT, parseUdpConfig, type UdpConfig } from './config.ts';
export { UDP_OVERHEAD } from './device.ts';
export { UdpDataPlane, dropReport, packetCounts, type UdpStats } from './data-plane.ts';
export { nativeUdpIo, type Pump, type UdpIo } from './io.ts';
export { PacketPath, DROP, type DropReason } from './packet-path.ts';
export { RouteTable } from './route-table.ts';

export interface UdpInit {
  /** The system side (default: the native addon). */
  readonly io?: UdpIo;
  /** Between checks of flannel0 (default 10 s). */
  readonly reconcileIntervalMs?: number;
  /** Between reports of dropped packets (default 60 s). */
  readonly statsIntervalMs?: number;
  /** Packets per batch (default 64). */
  readonly batch?: number;
  /** Told how to read the running data plane's counters (metrics read them when scraped). */
  readonly onStats?: (read: () => UdpStats) => void;
}

export function udp(init: UdpInit = {}): BackendFactory {
  const io = init.io ?? nativeUdpIo();
  return {
    type: UDP_BACKEND_TYPE,
    checkConfig: (config) => {
      const parsed = parseUdpConfig(config.backend.raw);
      checkUdpFamilies(config);
      return parsed;
    },
    create: ({ subnets, kernel, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        const { undo } = options;
        const { config: cfg, warnings } = parseUdpConfig(config.backend.raw);
        checkUdpFamilies(config);
        for (const w of warnings) log.warn(`network config: ${w}`);
        const network = config.v4?.network as Cidr;
        const bind = extIface.ifaceAddr;
        if (!bind || bind.family !== 4) {
          throw new BackendError('E_BACKEND_UNAVAILABLE', `the udp backend binds its socket to ${extIface.name}'s IPv4 address, and ${extIface.name} has none`, {
            hint: 'give the interface an IPv4 address, or choose another with --iface',
          });
        }
        const mtu = extIface.mtu - UDP_OVERHEAD;
        log.info(`UDP config: Port=${cfg.port} MTU=${mtu} (${extIface.name} ${extIface.mtu} − ${UDP_OVERHEAD})`);

        const socket = io.openSocket(bind, cfg.port);
        let tun: TunDevice;
        try {
          tun = io.openTun(TUN_PATTERN);
        } catch (err) {
          socket.close();
          throw err;
        }
        let plane: UdpDataPlane;
        let lease: Lease;
        try {
          lease = await subnets.acquireLease({
            config,
            attrs: baseLeaseAttrs(extIface, config, UDP_BACKEND_TYPE),
            hints,
            signal,
            ...options,
          });
          const subnet = lease.subnet;
          if (!subnet) throw new LeaseError('E_LEASE_NO_SUBNET', 'the lease has no IPv4 subnet, which the udp backend needs');
          const set = await ensureTunDevice(kernel, { name: tun.name, mtu, subnet, network });
          if (set === undefined) throw new BackendError('E_TUN_GONE', `${tun.name} vanished while it was being set up`);
          plane = new UdpDataPlane({
            kernel,
            io,
            log,
            network,
            lease: { ...lease, subnet },
            port: cfg.port,
            mtu,
            tun,
            socket,
            ...(init.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: init.reconcileIntervalMs } : {}),
            ...(init.statsIntervalMs !== undefined ? { statsIntervalMs: init.statsIntervalMs } : {}),
            ...(init.batch !== undefined ? { batch: init.batch } : {}),
          });
          const running = plane;
          init.onStats?.(() => running.stats());
          log.info(`${tun.name}: ${subnet.ip.toString()}/32, MTU ${mtu}, route ${network.toString()}; UDP ${bind.toString()}:${cfg.port}`, { device: tun.name, port: cfg.port });
        } catch (err) {
          tun.close();
          socket.close();
          throw err;
        }
        const close = (): void => plane.close();
        undo?.add(`remove ${tun.name}`, async () => close());
        // Registered but never run (a start-up that stops before run): the device goes with the signal.
        signal.addEventListener('abort', close, { once: true });
        return {
          lease,
          mtu,
          async run(runSignal) {
            try {
              await plane.run(watchPeers(subnets, plane.lease, runSignal, log), runSignal);
            } finally {
              signal.removeEventListener('abort', close);
            }
          },
        };
      },
    }),
  };
}
