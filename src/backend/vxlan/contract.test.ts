/**
 * The backend contract for vxlan: flannel.1 (VNI 1) carries this node's address and the MAC in
 * its lease; each peer gets a route via its subnet address onlink, a permanent neighbour and an
 * FDB entry towards its public IP.
 */
import type { Lease } from '../../lease/index.ts';
import { backendContract, publicIPOf, subnetOf, type LinesContext } from '../testing/backend-contract.ts';
import { decodeVxlanData } from './backend-data.ts';
import { vxlan } from './index.ts';

const DEV = 'flannel.1';
const OTHER_MAC = '0e:99:99:99:99:99';

/** The VtepMAC a lease carries, or a text that makes the comparison fail readably. */
function vtepMac(lease: Lease): string {
  const data = decodeVxlanData(lease.attrs.backendData);
  return 'vtepMac' in data ? data.vtepMac : `(unusable BackendData: ${data.problem})`;
}

const repaired = (what: string): string => `info: repaired 1 kernel object(s) that were missing or changed: ${what}`;

backendContract('vxlan', {
  type: 'vxlan',
  machine: (kernel) => ({
    factory: (tuning) => vxlan(tuning),
    async expectedBackendData() {
      return { VNI: 1, VtepMAC: (await kernel.getLink(DEV))?.mac ?? `(no ${DEV})` };
    },
  }),
  podMtu: (extMtu) => extMtu - 50,
  ownLines: ({ lease, ext }: LinesContext) => [`link ${DEV} vxlan mtu ${ext.mtu - 50} up mac ${vtepMac(lease)} addr ${subnetOf(lease).ip.toString()}/32`],
  peerData: (n) => ({ VNI: 1, VtepMAC: `0e:00:00:00:00:${n.toString(16).padStart(2, '0')}` }),
  peerLines(peer) {
    const gw = subnetOf(peer).ip.toString();
    const mac = vtepMac(peer);
    return [`route ${subnetOf(peer).toString()} via ${gw} dev ${DEV} onlink`, `neigh ${gw} lladdr ${mac} dev ${DEV} permanent`, `fdb ${mac} dst ${publicIPOf(peer).toString()} dev ${DEV} self permanent`];
  },
  damages: [
    {
      what: 'a route deleted by hand',
      apply: async (_m, { kernel, peer }) => kernel.deleteRoute({ dst: subnetOf(peer) }),
      logged: ({ peer }) => [repaired(`route ${subnetOf(peer).toString()} via ${subnetOf(peer).ip.toString()} dev ${DEV} onlink`)],
    },
    {
      what: 'a neighbour rewritten by hand',
      async apply(_m, { kernel, peer }) {
        const dev = await kernel.getLink(DEV);
        await kernel.replaceNeighbor({ linkIndex: dev?.index ?? 0, ip: subnetOf(peer).ip, mac: OTHER_MAC });
      },
      logged: ({ peer }) => [repaired(`neigh ${subnetOf(peer).ip.toString()} lladdr ${vtepMac(peer)} dev ${DEV}`)],
    },
    {
      what: 'an FDB entry deleted by hand',
      async apply(_m, { kernel, peer }) {
        const dev = await kernel.getLink(DEV);
        await kernel.deleteFdb({ linkIndex: dev?.index ?? 0, mac: vtepMac(peer), dst: publicIPOf(peer) });
      },
      logged: ({ peer }) => [repaired(`fdb ${vtepMac(peer)} dst ${publicIPOf(peer).toString()} dev ${DEV}`)],
    },
    {
      what: 'the VTEP MAC rewritten (ff#1795)',
      apply: async (_m, { kernel }) => kernel.setLinkMac(DEV, OTHER_MAC),
      logged: ({ lease }) => [`info: restored MAC ${vtepMac(lease)} on ${DEV} (someone changed it to ${OTHER_MAC}); peers address this node by that MAC`],
    },
    {
      what: 'the VTEP MTU changed by hand',
      apply: async (_m, { kernel }) => kernel.setLinkMtu(DEV, 1400),
      logged: () => [`info: set MTU of ${DEV} to 1450 (was 1400)`],
    },
    {
      what: 'the VTEP address removed by hand',
      async apply(_m, { kernel, lease }) {
        const dev = await kernel.getLink(DEV);
        await kernel.delAddr(dev?.index ?? 0, { ip: subnetOf(lease).ip, prefix: 32 });
      },
      logged: ({ lease }) => [`info: added address ${subnetOf(lease).ip.toString()}/32 to ${DEV}`],
    },
    {
      what: 'the VTEP taken down (its routes flushed silently)',
      apply: async (_m, { kernel }) => kernel.setLinkDown(DEV),
    },
    {
      what: 'the VTEP deleted by hand: re-created with the MAC in the lease, every peer programmed again',
      apply: async (_m, { kernel }) => kernel.deleteLink(DEV),
      logged: ({ lease }) => [`warn: ${DEV} is gone (deleted by hand?): re-creating it with MAC ${vtepMac(lease)}`],
    },
  ],
  config: {
    invalid: [
      { backend: { VNI: 'one' }, message: 'Backend.VNI must be a whole number from 0 to 16777215, got string "one"' },
      { backend: { DirectRouting: 'yes' }, message: 'Backend.DirectRouting must be true or false, got string "yes"' },
    ],
    invalidForInterface: [
      { backend: { MTU: 9000 }, message: 'Backend.MTU 9000 is larger than the MTU of eth0 (1500): the kernel refuses a VXLAN device larger than its underlay allows' },
    ],
    unknownKey: { backend: { Bogus: 1 }, warning: 'Backend.Bogus is not a vxlan setting and is ignored (vxlan settings: VNI, Port, GBP, Learning, DirectRouting, MTU, MacPrefix)' },
  },
});
