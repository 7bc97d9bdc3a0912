/**
 * The backend contract for wireguard on its kernel data path (FakeKernel + FakeWireguard):
 * flannel-wg carries this node's address and one route for the whole Network, its key and port
 * are in the lease; each peer is a WireGuard peer (endpoint its public IP and port, AllowedIPs
 * its subnet, the PSK and keepalive of the Backend section). The key file lives in a temp dir per
 * machine, so a restart finds it again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeWireguard } from '../../kernel/fake-wireguard.ts';
import type { Lease } from '../../lease/index.ts';
import { publicKeyOf } from '../../wireguard/keys.ts';
import { backendContract, publicIPOf, subnetOf, type LinesContext } from '../testing/backend-contract.ts';
import { wireguardLines } from '../testing/fixtures.ts';
import { decodeWireguardData } from './backend-data.ts';
import { kernelDataPath, wireguard } from './index.ts';

const DEV = 'flannel-wg';
const PSK = 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2E=';
const KEEPALIVE = 25;

/** The PublicKey and Port a lease carries, or a text that makes the comparison fail readably. */
function keyAndPort(lease: Lease): string {
  const data = decodeWireguardData(lease.attrs.backendData);
  return 'publicKey' in data ? `key ${data.publicKey} port ${data.port}` : `(unusable BackendData: ${data.problem})`;
}

const peerLine = (peer: Lease, publicKey: string, port: number): string =>
  `wireguard ${DEV} peer ${publicKey} endpoint ${publicIPOf(peer).toString()}:${port} allowed-ips ${subnetOf(peer).toString()} keepalive ${KEEPALIVE} psk ${PSK}`;

backendContract('wireguard (kernel data path)', {
  type: 'wireguard',
  backend: { PSK, PersistentKeepaliveInterval: KEEPALIVE },
  machine(kernel, t) {
    const wg = new FakeWireguard(kernel);
    const dir = mkdtempSync(join(tmpdir(), 'flannel-wg-contract-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'wgkey');
    return {
      wg,
      factory: (tuning) =>
        wireguard({
          paths: { kernel: async () => kernelDataPath(kernel, wg), userspace: async () => ({ unavailable: 'wireguard-go is not part of this test' }) },
          keyFile,
          reconcileIntervalMs: tuning.reconcileIntervalMs,
        }),
      async expectedBackendData() {
        const state = await wg.get(DEV);
        return { PublicKey: state?.publicKey ?? `(no key on ${DEV})`, Port: state?.listenPort ?? 0 };
      },
      extraLines: () => wireguardLines(kernel, wg),
    };
  },
  podMtu: (extMtu) => extMtu - 80,
  ownLines: ({ lease, ext, config }: LinesContext) => [
    `link ${DEV} wireguard mtu ${ext.mtu - 80} up addr ${subnetOf(lease).ip.toString()}/32`,
    `route ${config.v4?.network.toString()} dev ${DEV}`,
    `wireguard ${DEV} ${keyAndPort(lease)}`,
  ],
  // Peer n's private key is 32 bytes of n: a fixed, valid key pair per peer.
  peerData: (n) => ({ PublicKey: publicKeyOf(Buffer.alloc(32, n).toString('base64')), Port: 51820 }),
  peerLines(peer) {
    const data = decodeWireguardData(peer.attrs.backendData);
    return 'publicKey' in data ? [peerLine(peer, data.publicKey, data.port)] : [`(peer with unusable BackendData: ${data.problem})`];
  },
  damages: [
    {
      what: `a peer removed by hand (wg set ${DEV} peer <key> remove)`,
      async apply({ wg }, { peer }) {
        const data = decodeWireguardData(peer.attrs.backendData);
        if ('publicKey' in data) await wg.dropPeer(DEV, data.publicKey);
      },
      logged: () => [`info: ${DEV}: configured 1 peer(s)`],
    },
    {
      what: 'the Network route deleted by hand',
      async apply(_m, { kernel, config }) {
        if (config.v4) await kernel.deleteRoute({ dst: config.v4.network });
      },
    },
    {
      what: 'the device taken down (its route flushed silently)',
      apply: async (_m, { kernel }) => kernel.setLinkDown(DEV),
    },
    {
      what: 'the device MTU changed by hand',
      apply: async (_m, { kernel }) => kernel.setLinkMtu(DEV, 1300),
    },
    {
      what: "the device's address removed by hand",
      async apply(_m, { kernel, lease }) {
        const dev = await kernel.getLink(DEV);
        await kernel.delAddr(dev?.index ?? 0, { ip: subnetOf(lease).ip, prefix: 32 });
      },
    },
    {
      what: 'the device deleted by hand: created again with its key, port, address, route and every peer',
      apply: async (_m, { kernel }) => kernel.deleteLink(DEV),
      logged: () => [`warn: WireGuard device ${DEV} is gone (deleted by hand?): creating it again`],
    },
  ],
  config: {
    invalid: [
      { backend: { ListenPort: 0 }, message: 'Backend.ListenPort must be a UDP port number from 1 to 65535, got number 0' },
      { backend: { PSK: 'AAAA' }, message: 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "AAAA", which is base64 of 3 bytes' },
    ],
    invalidForInterface: [{ backend: { MTU: 9000 }, message: 'Backend.MTU 9000 is larger than the MTU of eth0 (1500): WireGuard packets would not fit the underlay' }],
    unknownKey: {
      backend: { VNI: 1 },
      warning: 'Backend.VNI is not a wireguard setting and is ignored (wireguard settings: PSK, ListenPort, ListenPortV6, PersistentKeepaliveInterval, Mode, MTU, Implementation)',
    },
  },
});
