/**
 * @module backend/alloc
 * Allocation only: leases a subnet and follows peers, programs nothing. Useful when another
 * component routes pod traffic, and as the smallest possible backend.
 */
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { watchPeers } from '../../subnet/index.ts';

export function alloc(): BackendFactory {
  return {
    type: 'alloc',
    create: ({ subnets, extIface, log }) => ({
      async registerNetwork(config, hints, signal): Promise<Network> {
        const lease = await subnets.acquireLease({ config, attrs: baseLeaseAttrs(extIface, config, 'alloc'), hints, signal });
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
