import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeWireguard } from '../../kernel/fake-wireguard.ts';
import type { Network } from '../backend.ts';
import { harness, networkConfig, type Harness } from '../testing/fixtures.ts';
import { kernelDataPath, wireguard, type DataPaths } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'flannel-wg-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

const PSK = 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2E=';

interface Started {
  h: Harness;
  wg: FakeWireguard;
  net: Network;
  keyFile: string;
  stop(): Promise<void>;
}

const DUAL = { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' };

async function start(o: { backend?: Record<string, unknown>; keyFile?: string; h?: Harness; dual?: boolean } = {}): Promise<Started> {
  const config = networkConfig({ Type: 'wireguard', ...o.backend }, o.dual ? DUAL : {});
  const h = o.h ?? harness({ config, subnet: '10.244.1.0/24', ...(o.dual ? { ipv6Subnet: 'fd00:10:244:1::/64', extAddr6: 'fd00::1/64' } : {}) });
  const wg = new FakeWireguard(h.kernel);
  const paths: DataPaths = { kernel: async () => kernelDataPath(h.kernel, wg), userspace: async () => ({ unavailable: 'not in this test' }) };
  const keyFile = o.keyFile ?? join(dir, `wgkey-${++seq}`);
  const net = await wireguard({ paths, keyFile, reconcileIntervalMs: 20 }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000));
  const ac = new AbortController();
  const done = net.run(ac.signal);
  return { h, wg, net, keyFile, stop: async () => (ac.abort(), await done) };
}

// The lease and device, peers added, changed and removed, repairs, config errors, the restart, peers
// of another type: the backend contract. What is wireguard's own:
describe('wireguard backend (kernel data path, on FakeKernel)', () => {
  it('writes its private key file readable by root only, and says which data path it uses', async () => {
    const { h, keyFile, stop } = await start({ backend: { PSK } });
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(h.log.lines.filter((l) => l.msg === 'WireGuard data path: kernel (generic netlink)').length, 1);
    await stop();
  });

  // A restart on the same machine is the backend contract's case; here the machine is new (no
  // device left), and the key file alone carries the identity.
  it('keeps its public key from the key file on a machine without the device', async () => {
    const first = await start();
    const key = (await first.wg.get('flannel-wg'))?.publicKey;
    await first.stop();
    const second = await start({ keyFile: first.keyFile });
    assert.equal((await second.wg.get('flannel-wg'))?.publicKey, key);
    assert.equal(second.h.log.lines.filter((l) => l.msg === `reusing the WireGuard private key ${first.keyFile}; public key ${key}`).length, 1);
    await second.stop();
  });

  it('dual stack, mode separate: flannel-wg and flannel-wg-v6, each family\'s data with its own port', async () => {
    const { h, wg, stop } = await start({ dual: true });
    const v4 = await h.kernel.getLink('flannel-wg');
    const v6 = await h.kernel.getLink('flannel-wg-v6');
    assert.deepEqual([(await wg.get('flannel-wg'))?.listenPort, (await wg.get('flannel-wg-v6'))?.listenPort], [51820, 51821]);
    const key = (await wg.get('flannel-wg'))?.publicKey;
    const [lease] = h.subnets.acquired;
    assert.equal(JSON.stringify(lease?.attrs.backendData), `{"PublicKey":"${key}","Port":51820}`);
    assert.equal(JSON.stringify(lease?.attrs.backendV6Data), `{"PublicKey":"${key}","Port":51821}`);
    assert.deepEqual((await h.kernel.listAddrs(v6?.index, 6)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['fd00:10:244:1::/128']);
    assert.ok((await h.kernel.listRoutes(6)).some((r) => r.dst.toString() === 'fd00:10:244::/56' && r.linkIndex === v6?.index));
    assert.ok((await h.kernel.listRoutes(4)).some((r) => r.dst.toString() === '10.0.0.0/8' && r.linkIndex === v4?.index));
    await stop();
  });

  it('dual stack, mode auto: one device for both families, both families\' data naming its port (upstream peers read either)', async () => {
    const { h, wg, stop } = await start({ dual: true, backend: { Mode: 'auto' } });
    assert.equal(await h.kernel.getLink('flannel-wg-v6'), undefined);
    const dev = await h.kernel.getLink('flannel-wg');
    const key = (await wg.get('flannel-wg'))?.publicKey;
    const [lease] = h.subnets.acquired;
    assert.equal(JSON.stringify(lease?.attrs.backendData), `{"PublicKey":"${key}","Port":51820}`);
    assert.equal(JSON.stringify(lease?.attrs.backendV6Data), `{"PublicKey":"${key}","Port":51820}`);
    assert.deepEqual((await h.kernel.listAddrs(dev?.index)).map((a) => `${a.ip.toString()}/${a.prefix}`).sort(), ['10.244.1.0/32', 'fd00:10:244:1::/128']);
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
