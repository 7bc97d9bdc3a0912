/**
 * The backend contract for ipip: the tunnel flannel.ipip (MTU eth0's − 20, this node's address
 * /32, up) and no BackendData; each peer gets an onlink route to its subnet via its public IP
 * through the tunnel.
 */
import type { Lease } from '../../lease/index.ts';
import { backendContract, publicIPOf, subnetOf } from '../testing/backend-contract.ts';
import { ipip } from './index.ts';

const DEV = 'flannel.ipip';
const route = (p: Lease): string => `route ${subnetOf(p).toString()} via ${publicIPOf(p).toString()} dev ${DEV} onlink`;
const repaired = (what: string): string => `info: repaired 1 kernel object(s) that were missing or changed: ${what}`;

backendContract('ipip', {
  type: 'ipip',
  machine: () => ({
    factory: (tuning) => ipip(tuning),
    expectedBackendData: async () => undefined,
  }),
  podMtu: (extMtu) => extMtu - 20,
  // An ipip device's link-layer address is its local IPv4 address, four bytes (eth0's here).
  ownLines: ({ lease, ext }) => [`link ${DEV} ipip mtu ${ext.mtu - 20} up mac ${[...(ext.ifaceAddr?.toBytes() ?? [])].map((b) => b.toString(16).padStart(2, '0')).join(':')} addr ${subnetOf(lease).ip.toString()}/32`],
  peerData: () => undefined,
  peerLines: (peer) => [route(peer)],
  damages: [
    {
      what: 'a route deleted by hand',
      apply: async (_m, { kernel, peer }) => kernel.deleteRoute({ dst: subnetOf(peer) }),
      logged: ({ peer }) => [repaired(route(peer))],
    },
    {
      what: 'the tunnel taken down (its routes flushed silently)',
      apply: async (_m, { kernel }) => kernel.setLinkDown(DEV),
    },
    {
      what: "the tunnel's address removed by hand",
      async apply(_m, { kernel, lease }) {
        const dev = await kernel.getLink(DEV);
        await kernel.delAddr(dev?.index ?? 0, { ip: subnetOf(lease).ip, prefix: 32 });
      },
    },
    {
      what: 'the tunnel deleted by hand: created again with its address, MTU and every route',
      apply: async (_m, { kernel }) => kernel.deleteLink(DEV),
      logged: () => [`warn: ${DEV} was gone or changed (deleted by hand?): re-created it; re-adding every peer's route`],
    },
  ],
  config: {
    invalid: [{ backend: { DirectRouting: 1 }, message: 'Backend.DirectRouting must be true or false, got number 1' }],
    unknownKey: { backend: { VNI: 1 }, warning: 'Backend.VNI is not an ipip setting and is ignored (ipip settings: DirectRouting)' },
  },
});
