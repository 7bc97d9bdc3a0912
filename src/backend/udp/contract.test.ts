/**
 * The backend contract for udp, on FakeKernel: flannel0 is a FakeKernel link made by the fake
 * addon (src/tun's real wrappers above it), and the userspace route table joins the observed
 * state as "udp route <subnet> via <ip>:<port>" lines.
 */
import { backendContract, CONTRACT_NETWORK, type ContractMachine } from '../testing/backend-contract.ts';
import type { Cidr } from '../../ip/index.ts';
import { udp } from './index.ts';
import { nativeUdpIo, type UdpIo } from './io.ts';
import type { PacketPath } from './packet-path.ts';
import { FakeTunAddon } from './testing/fake-addon.ts';

interface UdpMachine extends ContractMachine {
  readonly addon: FakeTunAddon;
}

const PORT = 8285;

backendContract<UdpMachine>('udp', {
  type: 'udp',
  machine(kernel) {
    const addon = new FakeTunAddon(kernel);
    const base = nativeUdpIo(() => addon);
    let path: PacketPath | undefined;
    const io: UdpIo = {
      ...base,
      startPump(tun, socket, port, p) {
        const pump = base.startPump(tun, socket, port, p);
        path = p;
        return {
          counters: () => pump.counters(),
          stop: () => {
            path = undefined;
            pump.stop();
          },
        };
      },
    };
    return {
      addon,
      factory: (tuning) => udp({ io, reconcileIntervalMs: tuning.reconcileIntervalMs }),
      expectedBackendData: async () => undefined,
      extraLines: async () => (path ? path.routes.routes.map((r) => `udp route ${r.subnet.toString()} via ${r.publicIP.toString()}:${PORT}`) : []),
    };
  },
  podMtu: (extMtu) => extMtu - 28,
  ownLines: ({ lease, ext }) => [`link flannel0 tun mtu ${ext.mtu - 28} up addr ${(lease.subnet as Cidr).ip.toString()}/32`, `route ${CONTRACT_NETWORK} dev flannel0`],
  peerData: () => undefined,
  peerLines: (peer) => [`udp route ${peer.subnet?.toString()} via ${peer.attrs.publicIP?.toString()}:${PORT}`],
  damages: [
    {
      what: 'the Network route through flannel0 deleted by hand',
      apply: async (_m, { kernel }) => {
        const link = await kernel.getLink('flannel0');
        const { Cidr: C } = await import('../../ip/index.ts');
        await kernel.deleteRoute({ dst: C.parse(CONTRACT_NETWORK), ...(link ? { linkIndex: link.index } : {}) });
      },
      logged: () => ['warn: flannel0 was changed by hand; restored its route'],
    },
    {
      what: "flannel0's address deleted and its MTU changed by hand",
      apply: async (_m, { kernel, lease }) => {
        const link = await kernel.getLink('flannel0');
        if (!link) throw new Error('no flannel0');
        await kernel.delAddr(link.index, { ip: (lease.subnet as Cidr).ip, prefix: 32 });
        await kernel.setLinkMtu(link.index, 1400);
      },
      logged: () => ['warn: flannel0 was changed by hand; restored its MTU, address'],
    },
    {
      what: 'flannel0 deleted by hand (a new TUN device is created and the pump moves to it)',
      apply: async (_m, { kernel }) => kernel.deleteLink('flannel0'),
      logged: () => ['warn: flannel0 is gone (deleted by hand?): creating it again', 'info: created flannel0 again'],
    },
  ],
  config: {
    invalid: [
      { backend: { Port: 0 }, message: 'Backend.Port must be a UDP port number from 1 to 65535, got number 0' },
      { backend: { Port: 65536 }, message: 'Backend.Port must be a UDP port number from 1 to 65535, got number 65536' },
      { backend: { Port: '8285' }, message: 'Backend.Port must be a UDP port number from 1 to 65535, got string "8285"' },
    ],
    unknownKey: { backend: { VNI: 1 }, warning: 'Backend.VNI is not a udp setting and is ignored (udp settings: Port)' },
  },
});
