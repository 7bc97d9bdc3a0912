import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UndoLog } from '../../async/index.ts';
import type { SubnetManager } from '../../subnet/index.ts';
import { cidr, harness, ip, kernelState, networkConfig, peer, runNetwork, type Harness, type HarnessOptions, type RunningNetwork } from '../testing/fixtures.ts';
import { ipip } from './index.ts';

const tuning = (h: Harness) => ({ onPass: (p: Parameters<Harness['onPass']>[0]) => h.onPass(p), repairDelayMs: 5, retryDelayMs: 20, reconcileIntervalMs: 60_000 });

async function start(o: Partial<HarnessOptions> & { backend?: Record<string, unknown>; before?: (h: Harness) => Promise<void> } = {}): Promise<RunningNetwork> {
  const config = o.config ?? networkConfig({ Type: 'ipip', ...o.backend });
  const h = harness({ subnet: '10.244.1.0/24', ...o, config });
  await o.before?.(h);
  return runNetwork(h, ipip(tuning(h)).create(h.deps), config);
}

const near = peer({ subnet: '10.244.2.0/24', publicIP: '192.0.2.12', backendType: 'ipip' });
const near2 = peer({ subnet: '10.244.3.0/24', publicIP: '192.0.2.13', backendType: 'ipip' });
const far = peer({ subnet: '10.244.4.0/24', publicIP: '203.0.113.14', backendType: 'ipip' });

const MISSING_MODULE = 'the ipip backend needs the "ipip" kernel module, and this kernel has none loaded: creating the tunnel device flannel.ipip failed with EOPNOTSUPP (Unknown device type)';
const MISSING_MODULE_HINT =
  'load the module on the node (the host, not a container): modprobe ipip; to load it at every boot: echo ipip > /etc/modules-load.d/ipip.conf. A kernel built without CONFIG_NET_IPIP cannot run ipip: use Backend.Type "vxlan" there';

describe('ipip registerNetwork', () => {
  it('creates flannel.ipip (local = the interface address, no remote, MTU − 20, lease address /32, up) and leases without BackendData', async () => {
    const { h, net, stop } = await start();
    const dev = await h.kernel.getLink('flannel.ipip');
    assert.equal(dev?.kind, 'ipip');
    assert.deepEqual({ ...dev?.ipip, local: dev?.ipip?.local?.toString() }, { local: '192.0.2.1', ttl: 0, pmtudisc: false });
    assert.equal(dev?.mtu, 1480);
    assert.equal(dev?.up, true);
    assert.equal(net.mtu, 1480);
    assert.deepEqual((await h.kernel.listAddrs(dev?.index, 4)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['10.244.1.0/32']);
    const attrs = h.subnets.acquired[0]?.attrs;
    assert.deepEqual([attrs?.backendType, attrs?.publicIP?.toString(), attrs?.backendData, attrs?.backendV6Data], ['ipip', '192.0.2.1', undefined, undefined]);
    assert.equal(h.logged('info', 'IPIP config: DirectRouting=false').length, 1);
    await stop();
  });

  it('stops before leasing when the kernel has no ipip module: a BackendError naming the module and how to load it, nothing left behind', async () => {
    const config = networkConfig({ Type: 'ipip' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    h.kernel.failNext('createLink', 'EOPNOTSUPP');
    const undo = new UndoLog();
    await assert.rejects(ipip().create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000), { undo }), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.name, 'BackendError');
      assert.equal(err.code, 'E_BACKEND_UNAVAILABLE');
      assert.equal(err.message, MISSING_MODULE);
      assert.equal(err.hint, MISSING_MODULE_HINT);
      return true;
    });
    assert.equal(h.subnets.acquired.length, 0, 'no lease was asked for');
    assert.equal(undo.size, 0, 'nothing to undo');
    assert.equal(await h.kernel.getLink('flannel.ipip'), undefined);
  });

  it('refuses IPv6 and IPv4-less configurations, an interface without IPv4 and an MTU too small, before touching anything', async () => {
    const cases: Array<{ config: ReturnType<typeof networkConfig>; o?: Partial<HarnessOptions>; message: string }> = [
      {
        config: networkConfig({ Type: 'ipip' }, { EnableIPv6: true, IPv6Network: 'fd00:10::/56' }),
        message: 'Backend.Type "ipip" needs "EnableIPv4": true and "EnableIPv6": false (got EnableIPv4 true, EnableIPv6 true)',
      },
      { config: networkConfig({ Type: 'ipip' }, { extMtu: undefined }), o: { extMtu: 87 }, message: 'the MTU of eth0 (87) is too small for ipip: the tunnel would get 67, below the IPv4 minimum of 68' },
    ];
    for (const c of cases) {
      const h = harness({ subnet: '10.244.1.0/24', config: c.config, ...c.o });
      await assert.rejects(ipip().create(h.deps).registerNetwork(c.config, {}, AbortSignal.timeout(5000)), { name: 'ConfigError', code: 'E_BACKEND_CONFIG', message: c.message });
      assert.equal(h.subnets.acquired.length, 0);
      assert.equal(await h.kernel.getLink('flannel.ipip'), undefined);
    }
    const config = networkConfig({ Type: 'ipip' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    const { ifaceAddr: _none, ...noV4 } = h.ext;
    await assert.rejects(ipip().create({ ...h.deps, extIface: noV4 }).registerNetwork(config, {}, AbortSignal.timeout(5000)), {
      name: 'ConfigError',
      message: 'the ipip tunnel needs an IPv4 address on eth0 as its local address, and eth0 has none',
    });
  });

  it('checks its one key: DirectRouting must be a boolean; others are warned about', () => {
    const f = ipip();
    assert.deepEqual(f.checkConfig(networkConfig({ Type: 'ipip', DirectRouting: true })).warnings, []);
    assert.deepEqual(f.checkConfig(networkConfig({ Type: 'ipip', VNI: 1 })).warnings, ['Backend.VNI is not an ipip setting and is ignored (ipip settings: DirectRouting)']);
    assert.throws(() => f.checkConfig(networkConfig({ Type: 'ipip', DirectRouting: 'yes' })), { name: 'ConfigError', message: 'Backend.DirectRouting must be true or false, got string "yes"' });
  });

  it('takes back the device it created when the lease cannot be had', async () => {
    const config = networkConfig({ Type: 'ipip' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    const failing: SubnetManager = Object.assign(Object.create(h.subnets) as SubnetManager, {
      acquireLease: async () => {
        throw Object.assign(new Error('no free subnet'), { code: 'E_POOL_EXHAUSTED' });
      },
    });
    const undo = new UndoLog();
    await assert.rejects(ipip().create({ ...h.deps, subnets: failing }).registerNetwork(config, {}, AbortSignal.timeout(5000), { undo }), { message: 'no free subnet' });
    assert.ok(await h.kernel.getLink('flannel.ipip'));
    const report = await undo.unwind(AbortSignal.timeout(5000));
    assert.deepEqual(report, { undone: ['delete flannel.ipip'], failed: [] });
    assert.equal(await h.kernel.getLink('flannel.ipip'), undefined);
  });

  it('keeps a compatible device (no blip) and a smaller MTU set on it by hand, as upstream; leaves tunl0 alone', async () => {
    const { h, net, stop } = await start({
      before: async (h) => {
        h.kernel.addLink({ name: 'tunl0', kind: 'ipip', mtu: 1480, up: false });
        await h.kernel.createLink({ kind: 'ipip', name: 'flannel.ipip', local: ip('192.0.2.1'), mtu: 1400 });
        h.kernel.ops.length = 0;
      },
    });
    assert.ok(!h.kernel.ops.some((op) => op.startsWith('createLink') || op.startsWith('deleteLink')), h.kernel.ops.join('\n'));
    assert.equal((await h.kernel.getLink('flannel.ipip'))?.mtu, 1400);
    assert.equal(net.mtu, 1400);
    assert.equal(h.logged('info', 'keeping the MTU 1400 of flannel.ipip').length, 1);
    assert.equal((await h.kernel.getLink('tunl0'))?.up, false);
    await stop();
  });

  it('re-creates a device with another local address or a fixed remote, saying why', async () => {
    const { h, stop } = await start({
      before: async (h) => void (await h.kernel.createLink({ kind: 'ipip', name: 'flannel.ipip', local: ip('192.0.2.99') })),
    });
    assert.deepEqual(h.logged('warn', 'flannel.ipip exists'), ['flannel.ipip exists with other settings (local 192.0.2.99 (want 192.0.2.1)): re-creating it']);
    assert.equal((await h.kernel.getLink('flannel.ipip'))?.ipip?.local?.toString(), '192.0.2.1');
    await stop();
  });

  it('refuses to delete a device of another kind named flannel.ipip', async () => {
    const config = networkConfig({ Type: 'ipip' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    h.kernel.addLink({ name: 'flannel.ipip', kind: 'bridge' });
    await assert.rejects(ipip().create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000)), {
      name: 'BackendError',
      code: 'E_BACKEND_DEVICE',
      permanent: true,
      message: 'flannel.ipip exists but is a bridge device, not an ipip tunnel; flanneld does not delete a device it did not create',
      hint: 'remove it (ip link del flannel.ipip) and restart flanneld',
    });
    assert.equal((await h.kernel.getLink('flannel.ipip'))?.kind, 'bridge');
    assert.equal(h.subnets.acquired.length, 0);
  });
});

describe('ipip peers', () => {
  it('routes each peer via its PublicIP through flannel.ipip, onlink, and removes the route with the peer', async () => {
    const { h, stop } = await start({ peers: [near, far] });
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink', 'route 10.244.4.0/24 via 203.0.113.14 dev flannel.ipip onlink']);
    const added = h.nextPass();
    h.subnets.add(near2);
    await added;
    assert.ok((await kernelState(h.kernel)).routes.includes('route 10.244.3.0/24 via 192.0.2.13 dev flannel.ipip onlink'));
    const removed = h.nextPass();
    h.subnets.remove(near);
    await removed;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.3.0/24 via 192.0.2.13 dev flannel.ipip onlink', 'route 10.244.4.0/24 via 203.0.113.14 dev flannel.ipip onlink']);
    await stop();
  });

  it('with DirectRouting routes peers on our L2 network via eth0 and the others through the tunnel', async () => {
    const { h, stop } = await start({ backend: { DirectRouting: true }, peers: [near, far] });
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev eth0', 'route 10.244.4.0/24 via 203.0.113.14 dev flannel.ipip onlink']);
    assert.equal(h.logged('info', 'IPIP config: DirectRouting=true').length, 1);
    await stop();
  });

  it('does not program a peer of another backend type, and says so', async () => {
    const vx = peer({ subnet: '10.244.5.0/24', publicIP: '192.0.2.15', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:05' } });
    const { h, stop } = await start({ peers: [near, vx] });
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink']);
    assert.deepEqual(h.logged('warn', 'peer 10.244.5.0/24'), ['peer 10.244.5.0/24 at 192.0.2.15 uses backend "vxlan", not ipip: not programmed (all nodes must use one backend type)']);
    await stop();
  });

  it('garbage-collects routes on the tunnel no peer owns, and stale gateway routes into the network on eth0', async () => {
    const { h, stop } = await start({
      peers: [near],
      before: async (h) => {
        await h.kernel.replaceRoute({ dst: cidr('10.244.9.0/24'), gateway: ip('192.0.2.19'), linkIndex: h.eth0.index });
        await h.kernel.replaceRoute({ dst: cidr('198.51.100.0/24'), gateway: ip('192.0.2.254'), linkIndex: h.eth0.index });
      },
    });
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink', 'route 198.51.100.0/24 via 192.0.2.254 dev eth0']);
    const tun = await h.kernel.getLink('flannel.ipip');
    const cleaned = h.nextPass((p) => p.kind === 'full' && p.removed === 1);
    await h.kernel.replaceRoute({ dst: cidr('10.244.8.0/24'), gateway: ip('192.0.2.18'), linkIndex: tun?.index ?? -1, onlink: true });
    h.kernel.simulateOverrun(); // a full pass, as after lost notifications
    await cleaned;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink', 'route 198.51.100.0/24 via 192.0.2.254 dev eth0']);
    await stop();
  });

  it('re-creates a deleted tunnel with its address and MTU and re-adds every route', async () => {
    const { h, stop } = await start({ peers: [near, near2] });
    const repaired = h.nextPass((p) => p.kind === 'full' && p.applied === 2);
    await h.kernel.deleteLink('flannel.ipip');
    await repaired;
    const dev = await h.kernel.getLink('flannel.ipip');
    assert.deepEqual([dev?.up, dev?.mtu, dev?.ipip?.local?.toString()], [true, 1480, '192.0.2.1']);
    assert.deepEqual((await h.kernel.listAddrs(dev?.index, 4)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['10.244.1.0/32']);
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink', 'route 10.244.3.0/24 via 192.0.2.13 dev flannel.ipip onlink']);
    assert.equal(h.logged('warn', 'flannel.ipip was gone or changed').length, 1);
    await stop();
  });

  it('brings the tunnel back up and restores its address when changed by hand', async () => {
    const { h, stop } = await start({ peers: [near] });
    const dev = await h.kernel.getLink('flannel.ipip');
    const repaired = h.nextPass((p) => p.kind === 'full' && p.applied === 1);
    await h.kernel.delAddr(dev?.index ?? -1, { ip: ip('10.244.1.0'), prefix: 32 });
    await h.kernel.setLinkDown('flannel.ipip');
    await repaired;
    const now = await h.kernel.getLink('flannel.ipip');
    assert.equal(now?.index, dev?.index, 'the same device');
    assert.equal(now?.up, true);
    assert.deepEqual((await h.kernel.listAddrs(now?.index, 4)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['10.244.1.0/32']);
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev flannel.ipip onlink']);
    await stop();
  });
});
