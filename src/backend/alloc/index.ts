/**
 * @module backend/alloc
 * Allocation only: leases a subnet and follows peers, programs nothing. Useful when another
 * component routes pod traffic, and as the smallest possible backend.
 */
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { parseBackendKeys } from '../backend-config.ts';
import { watchPeers } from '../../subnet/index.ts';

export function alloc(): BackendFactory {
  return {
    type: 'alloc',
    checkConfig: (config) => parseBackendKeys(config.backend.raw, 'alloc', {}),
    create: ({ subnets, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        for (const w of parseBackendKeys(config.backend.raw, 'alloc', {}).warnings) log.warn(`network config: ${w}`);
        const lease = await subnets.acquireLease({ config, attrs: baseLeaseAttrs(extIface, config, 'alloc'), hints, signal, ...options });
        return {
          lease,
          mtu: extIface.mtu,
          async run(runSignal) {
            for await (const _batch of watchPeers(subnets, lease, runSignal, log)) {
              // nothing to program: the events are logged by watchPeers
            }
          },
        };
      },
    }),
  };
}
