/**
 * @module backend/host-gw
 * Routes each peer's pod subnet via the peer's own address on the external interface: no
 * encapsulation, so every node must sit on one L2 segment.
 */
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { parseBackendKeys } from '../backend-config.ts';
import type { ReconcileTuning } from '../peer-reconciler.ts';
import { createRouteNetwork, type RouteNetworkSpec } from '../route-network.ts';

export const hostGwRoutes: RouteNetworkSpec = {
  backendType: 'host-gw',
  route({ subnet, publicIP, onLink, ext }) {
    if (!onLink(publicIP)) {
      return `is not on the same L2 network as ${ext.name}: host-gw needs all nodes on one L2 segment; use vxlan or DirectRouting`;
    }
    return { dst: subnet, gateway: publicIP, linkIndex: ext.index };
  },
};

export function hostGw(tuning: ReconcileTuning = {}): BackendFactory {
  return {
    type: 'host-gw',
    checkConfig: (config) => parseBackendKeys(config.backend.raw, 'host-gw', {}),
    create: (deps) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        for (const w of parseBackendKeys(config.backend.raw, 'host-gw', {}).warnings) deps.log.warn(`network config: ${w}`);
        const lease = await deps.subnets.acquireLease({ config, attrs: baseLeaseAttrs(deps.extIface, config, 'host-gw'), hints, signal, ...options });
        return createRouteNetwork({ deps, config, lease, mtu: deps.extIface.mtu, spec: hostGwRoutes, tuning });
      },
    }),
  };
}
