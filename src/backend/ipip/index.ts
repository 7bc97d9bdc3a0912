/**
 * @module backend/ipip
 * Pod traffic to other nodes goes IPv4-in-IPv4 through flannel.ipip (local = the external
 * interface's address, no remote), one onlink route per peer via the peer's PublicIP; with
 * DirectRouting, peers on our L2 network are routed directly as host-gw does. IPv4 only, and the
 * kernel needs the ipip module. Register: device first (a kernel without ipip fails here, before
 * anything is written), then the lease, then the device's address; the tunnel MTU is the external
 * interface's − 20, unless an existing device was set lower by hand (kept, as upstream does).
 */
import type { NetworkConfig } from '../../config/index.ts';
import { ConfigError } from '../../errors/index.ts';
import { isKernelErrno } from '../../kernel/index.ts';
import { watchPeers } from '../../subnet/index.ts';
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { PeerReconciler, type ReconcileTuning } from '../peer-reconciler.ts';
import { parseIpipConfig } from './config.ts';
import { configureTunnel, IpipDataPlane, type Tunnel } from './data-plane.ts';
import { ensureIpipDevice, IPIP_OVERHEAD, MIN_MTU, TUNNEL_NAME } from './device.ts';

export { parseIpipConfig, type IpipConfig } from './config.ts';
export { TUNNEL_NAME as IPIP_TUNNEL_NAME } from './device.ts';

const IPV4_ONLY_HINT = 'ipip carries IPv4 only: set "EnableIPv6": false (and leave EnableIPv4 on), or use Backend.Type "vxlan" or "wireguard" for IPv6';

function checkIpipFamilies(config: Pick<NetworkConfig, 'enableIPv4' | 'enableIPv6'>): void {
  if (config.enableIPv6 || !config.enableIPv4) {
    throw new ConfigError('E_BACKEND_CONFIG', `Backend.Type "ipip" needs "EnableIPv4": true and "EnableIPv6": false (got EnableIPv4 ${config.enableIPv4}, EnableIPv6 ${config.enableIPv6})`, { hint: IPV4_ONLY_HINT });
  }
}

export function ipip(tuning: ReconcileTuning = {}): BackendFactory {
  return {
    type: 'ipip',
    checkConfig: (config) => {
      const parsed = parseIpipConfig(config.backend.raw);
      checkIpipFamilies(config);
      return parsed;
    },
    create: ({ subnets, kernel, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        const { undo } = options;
        const { config: cfg, warnings } = parseIpipConfig(config.backend.raw);
        for (const w of warnings) log.warn(`network config: ${w}`);
        checkIpipFamilies(config);
        const local = extIface.ifaceAddr;
        if (local?.family !== 4) {
          throw new ConfigError('E_BACKEND_CONFIG', `the ipip tunnel needs an IPv4 address on ${extIface.name} as its local address, and ${extIface.name} has none`, {
            hint: `give ${extIface.name} an IPv4 address, or choose another interface with --iface`,
          });
        }
        const wanted = extIface.mtu - IPIP_OVERHEAD;
        if (wanted < MIN_MTU) {
          throw new ConfigError('E_BACKEND_CONFIG', `the MTU of ${extIface.name} (${extIface.mtu}) is too small for ipip: the tunnel would get ${wanted}, below the IPv4 minimum of ${MIN_MTU}`, {
            hint: `raise the MTU of ${extIface.name} to at least ${MIN_MTU + IPIP_OVERHEAD}, or choose another interface with --iface`,
          });
        }
        log.info(`IPIP config: DirectRouting=${cfg.directRouting}`);
        signal.throwIfAborted();

        const { link, created } = await ensureIpipDevice(kernel, { name: TUNNEL_NAME, local, mtu: wanted }, log);
        if (created) {
          undo?.add(`delete ${TUNNEL_NAME}`, async () => {
            await kernel.deleteLink(TUNNEL_NAME).catch((err: unknown) => {
              if (!isKernelErrno(err, 'ENODEV')) throw err;
            });
          });
        }
        // As upstream: a device someone set to a smaller MTU keeps it, and pods get that MTU.
        const mtu = !created && link.mtu >= MIN_MTU && link.mtu < wanted ? link.mtu : wanted;
        if (mtu !== wanted) log.info(`keeping the MTU ${mtu} of ${TUNNEL_NAME} (set by hand; the default is ${wanted}, ${extIface.name}'s MTU − ${IPIP_OVERHEAD})`);

        const lease = await subnets.acquireLease({
          config,
          attrs: baseLeaseAttrs(extIface, config, 'ipip'),
          hints,
          signal,
          ...options,
        });
        const subnet = lease.subnet;
        if (!subnet) throw new ConfigError('E_BACKEND_CONFIG', 'the lease has no IPv4 subnet although ipip is IPv4 only', { hint: IPV4_ONLY_HINT });

        const tunnel: Tunnel = { spec: { name: TUNNEL_NAME, local, mtu }, address: { ip: subnet.ip, prefix: 32 }, index: link.index };
        const current = (await kernel.getLinkByIndex(tunnel.index)) ?? (await ensureIpipDevice(kernel, tunnel.spec, log)).link;
        tunnel.index = current.index;
        await configureTunnel(kernel, tunnel, log);
        const plane = new IpipDataPlane({ kernel, log, ext: extIface, config, lease, tunnel, directRouting: cfg.directRouting });
        return {
          lease,
          mtu,
          async run(runSignal) {
            const reconciler = new PeerReconciler(plane, { ...tuning, kernel, log });
            await reconciler.run(watchPeers(subnets, lease, runSignal, log), runSignal);
          },
        };
      },
    }),
  };
}
