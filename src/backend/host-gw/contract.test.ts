/**
 * The backend contract for host-gw: no device and no BackendData; each peer gets a route to its
 * subnet via its public IP on eth0.
 */
import { backendContract, publicIPOf, subnetOf } from '../testing/backend-contract.ts';
import { ip } from '../testing/fixtures.ts';
import type { Lease } from '../../lease/index.ts';
import { hostGw } from './index.ts';

const route = (p: Lease, dev: string): string => `route ${subnetOf(p).toString()} via ${publicIPOf(p).toString()} dev ${dev}`;
const repaired = (n: number, what: string): string => `info: repaired ${n} kernel object(s) that were missing or changed: ${what}`;

backendContract('host-gw', {
  type: 'host-gw',
  machine: () => ({
    factory: (tuning) => hostGw(tuning),
    expectedBackendData: async () => undefined,
  }),
  podMtu: (extMtu) => extMtu,
  ownLines: () => [],
  peerData: () => undefined,
  peerLines: (peer, { ext }) => [route(peer, ext.name)],
  damages: [
    {
      what: 'a route deleted by hand',
      apply: async (_m, { kernel, peer }) => kernel.deleteRoute({ dst: subnetOf(peer) }),
      logged: ({ peer, ext }) => [repaired(1, route(peer, ext.name))],
    },
    {
      what: 'a route rewritten by hand to another gateway',
      apply: async (_m, { kernel, peer, ext }) => kernel.replaceRoute({ dst: subnetOf(peer), gateway: ip('192.0.2.250'), linkIndex: ext.index }),
      logged: ({ peer, ext }) => [repaired(1, route(peer, ext.name))],
    },
    {
      what: 'routes flushed silently by a flap of the external interface (ff#869)',
      async apply(_m, { kernel, ext }) {
        await kernel.setLinkDown(ext.name);
        await kernel.setLinkUp(ext.name);
      },
      logged: ({ peers, ext }) => [repaired(peers.length, peers.map((p) => route(p, ext.name)).join(', '))],
    },
  ],
  config: {
    invalid: [],
    unknownKey: { backend: { VNI: 1 }, warning: 'Backend.VNI is not a host-gw setting and is ignored (host-gw settings: none)' },
  },
});
