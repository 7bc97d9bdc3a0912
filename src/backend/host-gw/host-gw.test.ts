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
const far = peer({ subnet: '10.244.4.0/24', publicIP: '203.0.113.14', backendType: 'host-gw' });

// The lease, the pod MTU, unknown keys, programming and removing peers, repairs (a route deleted or
// rewritten by hand, routes flushed by a link flap): the backend contract. What is host-gw's own:
describe('host-gw', () => {
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
});
