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

async function start(o: { backend?: Record<string, unknown>; keyFile?: string; h?: Harness } = {}): Promise<Started> {
  const config = networkConfig({ Type: 'wireguard', ...o.backend });
  const h = o.h ?? harness({ config, subnet: '10.244.1.0/24' });
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
