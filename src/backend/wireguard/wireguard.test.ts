import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeWireguard } from '../../kernel/fake-wireguard.ts';
import { generatePrivateKey, publicKeyOf } from '../../wireguard/keys.ts';
import type { Network } from '../backend.ts';
import { harness, networkConfig, peer, type Harness } from '../testing/fixtures.ts';
import { kernelDataPath, wireguard, type DataPaths } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'flannel-wg-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

const PEER_KEY = publicKeyOf(generatePrivateKey());
const PSK = 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2E=';
const wgPeer = (subnet: string, publicIP: string, key = PEER_KEY) => peer({ subnet, publicIP, backendType: 'wireguard', backendData: { PublicKey: key, Port: 51820 } });

async function until(what: string, pred: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Started {
  h: Harness;
  wg: FakeWireguard;
  net: Network;
  keyFile: string;
  stop(): Promise<void>;
}

async function start(o: { backend?: Record<string, unknown>; keyFile?: string; h?: Harness; peers?: ReturnType<typeof peer>[] } = {}): Promise<Started> {
  const config = networkConfig({ Type: 'wireguard', ...o.backend });
  const h = o.h ?? harness({ config, subnet: '10.244.1.0/24', peers: o.peers ?? [] });
  const wg = new FakeWireguard(h.kernel);
  const paths: DataPaths = { kernel: async () => kernelDataPath(h.kernel, wg), userspace: async () => ({ unavailable: 'not in this test' }) };
  const keyFile = o.keyFile ?? join(dir, `wgkey-${++seq}`);
  const net = await wireguard({ paths, keyFile, reconcileIntervalMs: 20 }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000));
  const ac = new AbortController();
  const done = net.run(ac.signal);
  return { h, wg, net, keyFile, stop: async () => (ac.abort(), await done) };
}

describe('wireguard backend (kernel data path, on FakeKernel)', () => {
  it('creates flannel-wg as upstream does and publishes its public key and port in the lease', async () => {
    const { h, wg, net, keyFile, stop } = await start({ backend: { PSK } });
    const link = await h.kernel.getLink('flannel-wg');
    assert.equal(link?.kind, 'wireguard');
    assert.equal(link?.mtu, 1420);
    assert.equal(link?.up, true);
    assert.equal(net.mtu, 1420);
    assert.deepEqual((await h.kernel.listAddrs(link?.index, 4)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['10.244.1.0/32']);
    assert.ok((await h.kernel.listRoutes(4)).some((r) => r.dst.toString() === '10.0.0.0/8' && r.linkIndex === link?.index), 'one route for the whole Network via flannel-wg');
    const state = await wg.get('flannel-wg');
    assert.equal(state?.listenPort, 51820);
    const data = h.subnets.acquired[0]?.attrs.backendData as { PublicKey: string; Port: number };
    assert.deepEqual(data, { PublicKey: state?.publicKey, Port: 51820 });
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(h.log.lines.filter((l) => l.msg === 'WireGuard data path: kernel (generic netlink)').length, 1);
    await stop();
  });

  it('configures a peer with endpoint, subnet and PSK, and removes it when its lease goes', async () => {
    const p = wgPeer('10.244.2.0/24', '192.0.2.12');
    const { h, wg, stop } = await start({ backend: { PSK, PersistentKeepaliveInterval: 25 } });
    h.subnets.add(p);
    await until('the peer on flannel-wg', async () => ((await wg.get('flannel-wg'))?.peers.length ?? 0) === 1);
    const [got] = (await wg.get('flannel-wg'))?.peers ?? [];
    assert.deepEqual(
      { key: got?.publicKey, psk: got?.presharedKey, endpoint: `${got?.endpoint?.ip.toString()}:${got?.endpoint?.port}`, allowed: got?.allowedIPs.map(String), keepalive: got?.persistentKeepalive },
      { key: PEER_KEY, psk: PSK, endpoint: '192.0.2.12:51820', allowed: ['10.244.2.0/24'], keepalive: 25 },
    );
    h.subnets.remove(p);
    await until('the peer removed', async () => ((await wg.get('flannel-wg'))?.peers.length ?? 1) === 0);
    await stop();
  });

  it('repairs a peer removed by hand and a device deleted by hand', async () => {
    const { h, wg, stop } = await start({ peers: [wgPeer('10.244.2.0/24', '192.0.2.12')] });
    await until('the peer', async () => ((await wg.get('flannel-wg'))?.peers.length ?? 0) === 1);
    await wg.dropPeer('flannel-wg', PEER_KEY);
    await until('the peer back', async () => ((await wg.get('flannel-wg'))?.peers.length ?? 0) === 1);
    await h.kernel.deleteLink('flannel-wg');
    await until('flannel-wg back with its peer', async () => ((await wg.get('flannel-wg'))?.peers.length ?? 0) === 1 && (await h.kernel.getLink('flannel-wg'))?.up === true);
    assert.equal(h.log.lines.filter((l) => l.msg === 'WireGuard device flannel-wg is gone (deleted by hand?): creating it again').length, 1);
    await stop();
  });

  it('keeps its public key across a restart (the key file is reused)', async () => {
    const first = await start();
    const key = (await first.wg.get('flannel-wg'))?.publicKey;
    await first.stop();
    const second = await start({ keyFile: first.keyFile });
    assert.equal((await second.wg.get('flannel-wg'))?.publicKey, key);
    assert.equal(second.h.log.lines.filter((l) => l.msg === `reusing the WireGuard private key ${first.keyFile}; public key ${key}`).length, 1);
    await second.stop();
  });

  it('ignores a peer of another backend, saying so', async () => {
    const { h, wg, stop } = await start({ peers: [peer({ subnet: '10.244.3.0/24', publicIP: '192.0.2.13' })] });
    await until('the warning', () => h.log.lines.some((l) => l.level === 'warn' && l.msg === 'peer 10.244.3.0/24 via 192.0.2.13 uses backend vxlan, not wireguard: it gets no tunnel'));
    assert.equal((await wg.get('flannel-wg'))?.peers.length, 0);
    await stop();
  });

  it('says which data path is missing when neither can run', async () => {
    const config = networkConfig({ Type: 'wireguard' });
    const h = harness({ config, subnet: '10.244.1.0/24' });
    const paths: DataPaths = { kernel: async () => ({ unavailable: 'the generic netlink family "wireguard" does not exist' }), userspace: async () => ({ unavailable: 'wireguard-go is not installed', hint: 'install it: apt-get install wireguard-go' }) };
    await assert.rejects(wireguard({ paths, keyFile: join(dir, 'never') }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000)), {
      code: 'E_BACKEND_UNAVAILABLE',
      message: 'no WireGuard data path: the kernel has none (the generic netlink family "wireguard" does not exist) and wireguard-go is not installed',
      hint: 'install it: apt-get install wireguard-go',
    });
    assert.equal(h.subnets.acquired.length, 0, 'no lease');
    assert.throws(() => statSync(join(dir, 'never')), { code: 'ENOENT' });
  });
});
