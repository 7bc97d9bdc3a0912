import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../kernel/index.ts';
import type { Present } from './kernel-objects.ts';
import { RouteDataPlane, type RouteNetworkSpec } from './route-network.ts';
import { cidr, ip, networkConfig, peer } from './testing/fixtures.ts';

// An ipip-like backend: every peer through one tunnel device, onlink.
const tunnelSpec = (tunIndex: number): RouteNetworkSpec => ({
  backendType: 'ipip',
  route: ({ subnet, publicIP }) => ({ dst: subnet, gateway: publicIP, linkIndex: tunIndex, onlink: true }),
});

async function setup(): Promise<{ kernel: FakeKernel; plane: RouteDataPlane; eth0: number }> {
  const kernel = new FakeKernel();
  const eth0 = kernel.addLink({ name: 'eth0', addrs: [{ ip: ip('192.0.2.1'), prefix: 24 }] });
  const config = networkConfig({ Type: 'ipip' });
  const lease = peer({ subnet: '10.244.1.0/24', publicIP: '192.0.2.1', backendType: 'ipip' });
  const plane = new RouteDataPlane({
    kernel,
    ext: { name: 'eth0', index: eth0.index, mtu: 1500, publicIP: ip('192.0.2.1') },
    config,
    lease,
    spec: tunnelSpec(eth0.index),
  });
  await plane.prepare();
  return { kernel, plane, eth0: eth0.index };
}

describe('RouteDataPlane', () => {
  it('asks the backend for each peer route', async () => {
    const { plane, eth0 } = await setup();
    const plan = plane.plan(peer({ subnet: '10.244.2.0/24', publicIP: '203.0.113.2', backendType: 'ipip' }));
    assert.deepEqual(plan.problems, []);
    assert.equal(plan.objects.length, 1);
    const [o] = plan.objects;
    assert.ok(o?.kind === 'route');
    assert.equal(o.route.linkIndex, eth0);
    assert.equal(o.route.gateway?.toString(), '203.0.113.2');
    assert.equal(o.route.onlink, true);
  });

  it('refuses peers of another backend type and peers without a public IP', async () => {
    const { plane } = await setup();
    assert.match(plane.plan(peer({ subnet: '10.244.2.0/24', publicIP: '192.0.2.2', backendType: 'vxlan' })).problems[0] ?? '', /^uses backend "vxlan", not ipip/);
    const noIp = { subnet: cidr('10.244.3.0/24'), attrs: { backendType: 'ipip' } };
    assert.deepEqual(plane.plan(noIp).problems, ['has no PublicIP: IPv4 traffic to it is not routed']);
  });

  it('owns gateway routes into the cluster network via its link, except our own subnet', async () => {
    const { kernel, plane, eth0 } = await setup();
    await kernel.replaceRoute({ dst: cidr('10.244.5.0/24'), gateway: ip('192.0.2.5'), linkIndex: eth0 });
    await kernel.replaceRoute({ dst: cidr('10.244.1.0/24'), gateway: ip('192.0.2.6'), linkIndex: eth0 });
    await kernel.replaceRoute({ dst: cidr('172.16.0.0/16'), gateway: ip('192.0.2.7'), linkIndex: eth0 });
    await kernel.replaceRoute({ dst: cidr('10.244.6.0/24'), linkIndex: eth0 });
    const present: Present[] = [];
    await plane.listPresent((p) => present.push(p));
    assert.deepEqual(
      present.map((p) => (p.kind === 'route' ? p.route.dst.toString() : p.kind)),
      ['10.244.5.0/24'],
    );
  });

  it('asks for a full pass when the external link flaps or its addresses change', async () => {
    const { plane, eth0, kernel } = await setup();
    const link = await kernel.getLinkByIndex(eth0);
    assert.ok(link);
    assert.equal(plane.needsReconcile({ type: 'link', action: 'new', link }), false);
    assert.equal(plane.needsReconcile({ type: 'link', action: 'new', link: { ...link, up: false } }), true);
    assert.equal(plane.needsReconcile({ type: 'link', action: 'new', link: { ...link, up: true } }), true);
    assert.equal(plane.needsReconcile({ type: 'addr', action: 'del', addr: { linkIndex: eth0, ip: ip('192.0.2.1'), prefix: 24, scope: 0 } }), true);
    assert.equal(plane.needsReconcile({ type: 'addr', action: 'del', addr: { linkIndex: 99, ip: ip('192.0.2.1'), prefix: 24, scope: 0 } }), false);
  });
});
