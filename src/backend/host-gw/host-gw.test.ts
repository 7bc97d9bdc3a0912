import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidr, harness, ip, kernelState, networkConfig, peer, runNetwork, type Harness, type HarnessOptions, type RunningNetwork } from '../testing/fixtures.ts';
import { hostGw } from './index.ts';

async function start(o: Partial<HarnessOptions> & { backend?: Record<string, unknown>; before?: (h: Harness) => Promise<void> } = {}): Promise<RunningNetwork> {
  const config = o.config ?? networkConfig({ Type: 'host-gw', ...o.backend });
  const h = harness({ subnet: '10.244.1.0/24', ...o, config });
  await o.before?.(h);
  return runNetwork(h, hostGw({ onPass: (p) => h.onPass(p), repairDelayMs: 5, retryDelayMs: 20, reconcileIntervalMs: 60_000 }).create(h.deps), config);
}

const near = peer({ subnet: '10.244.2.0/24', publicIP: '192.0.2.12', backendType: 'host-gw' });
const near2 = peer({ subnet: '10.244.3.0/24', publicIP: '192.0.2.13', backendType: 'host-gw' });
const far = peer({ subnet: '10.244.4.0/24', publicIP: '203.0.113.14', backendType: 'host-gw' });

describe('host-gw', () => {
  it('leases without backend data; pod MTU is the interface MTU', async () => {
    const { h, net, stop } = await start({ extMtu: 9000 });
    const attrs = h.subnets.acquired[0]?.attrs;
    assert.equal(attrs?.backendType, 'host-gw');
    assert.equal(attrs?.backendData, undefined);
    assert.equal(attrs?.publicIP?.toString(), '192.0.2.1');
    assert.equal(net.mtu, 9000);
    await stop();
  });

  it('warns about unknown Backend keys', async () => {
    const { h, stop } = await start({ backend: { VNI: 1 } });
    assert.equal(h.logged('warn', 'Backend.VNI is not a host-gw setting and is ignored').length, 1);
    await stop();
  });

  it('routes each peer via its public IP on the external interface, and removes the route with the peer', async () => {
    const { h, stop } = await start({ peers: [near] });
    assert.deepEqual(await kernelState(h.kernel), { routes: ['route 10.244.2.0/24 via 192.0.2.12 dev eth0'], neighs: [], fdb: [] });
    const added = h.nextPass();
    h.subnets.add(near2);
    await added;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev eth0', 'route 10.244.3.0/24 via 192.0.2.13 dev eth0']);
    const removed = h.nextPass();
    h.subnets.remove(near);
    await removed;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.3.0/24 via 192.0.2.13 dev eth0']);
    await stop();
  });

  it('does not half-route a peer outside our L2 segment, and says why', async () => {
    const { h, stop } = await start({ peers: [near, far] });
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev eth0']);
    assert.deepEqual(h.logged('warn', 'peer 10.244.4.0/24'), [
      'peer 10.244.4.0/24 at 203.0.113.14 is not on the same L2 network as eth0: host-gw needs all nodes on one L2 segment; use vxlan or DirectRouting',
    ]);
    await stop();
  });

  it('counts link-scope routes on the interface as on-link', async () => {
    const { h, stop } = await start({
      peers: [far],
      before: async (h) => h.kernel.replaceRoute({ dst: cidr('203.0.113.0/24'), linkIndex: h.eth0.index }),
    });
    assert.ok((await kernelState(h.kernel)).routes.includes('route 10.244.4.0/24 via 203.0.113.14 dev eth0'));
    await stop();
  });

  it('garbage-collects gateway routes into the cluster network no peer owns, and nothing else', async () => {
    const { h, stop } = await start({
      peers: [near],
      before: async (h) => {
        await h.kernel.replaceRoute({ dst: cidr('10.244.9.0/24'), gateway: ip('192.0.2.19'), linkIndex: h.eth0.index });
        await h.kernel.replaceRoute({ dst: cidr('198.51.100.0/24'), gateway: ip('192.0.2.254'), linkIndex: h.eth0.index });
        await h.kernel.replaceRoute({ dst: cidr('10.244.1.0/24'), gateway: ip('192.0.2.254'), linkIndex: h.eth0.index });
      },
    });
    assert.deepEqual((await kernelState(h.kernel)).routes, [
      'route 10.244.1.0/24 via 192.0.2.254 dev eth0',
      'route 10.244.2.0/24 via 192.0.2.12 dev eth0',
      'route 198.51.100.0/24 via 192.0.2.254 dev eth0',
    ]);
    assert.deepEqual(h.logged('info', 'stale'), ['removed 1 stale kernel object(s) no peer owns: route 10.244.9.0/24 via 192.0.2.19 dev eth0']);
    await stop();
  });

  it('re-adds routes flushed silently by a link flap (ff#869)', async () => {
    const { h, stop } = await start({ peers: [near, near2] });
    const repaired = h.nextPass((p) => p.kind === 'full' && p.applied === 2);
    await h.kernel.setLinkDown('eth0');
    assert.deepEqual((await kernelState(h.kernel)).routes, []);
    await h.kernel.setLinkUp('eth0');
    await repaired;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev eth0', 'route 10.244.3.0/24 via 192.0.2.13 dev eth0']);
    assert.equal(h.logged('info', 'repaired 2 kernel object(s)').length, 1);
    await stop();
  });

  it('repairs a route deleted by hand', async () => {
    const { h, stop } = await start({ peers: [near] });
    const repaired = h.nextPass((p) => p.kind === 'full' && p.applied === 1);
    await h.kernel.deleteRoute({ dst: cidr('10.244.2.0/24') });
    await repaired;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 192.0.2.12 dev eth0']);
    await stop();
  });
});
