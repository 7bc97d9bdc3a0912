import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, kernelState, networkConfig, peer, vxlanPeer, runNetwork, type Harness, type HarnessOptions, type RunningNetwork } from '../testing/fixtures.ts';
import { cidr, ip } from '../testing/fixtures.ts';
import { recordingRunner } from '../../exec/index.ts';
import { vxlan, type VxlanInit } from './index.ts';

const MAC_A = '0e:aa:00:00:00:01';
const MAC_B = '0e:bb:00:00:00:02';

async function start(o: Partial<HarnessOptions> & { backend?: Record<string, unknown>; init?: VxlanInit; before?: (h: Harness) => Promise<void> } = {}): Promise<RunningNetwork> {
  const config = o.config ?? networkConfig({ Type: 'vxlan', ...o.backend });
  const h = harness({ subnet: '10.244.1.0/24', ...o, config });
  await o.before?.(h);
  return runNetwork(h, vxlan({ onPass: (p) => h.onPass(p), repairDelayMs: 5, retryDelayMs: 20, reconcileIntervalMs: 60_000, ...o.init }).create(h.deps), config);
}

const vxlanObjects = (subnet: string, gw: string, mac: string, publicIP: string): { routes: string[]; neighs: string[]; fdb: string[] } => ({
  routes: [`route ${subnet} via ${gw} dev flannel.1 onlink`],
  neighs: [`neigh ${gw} lladdr ${mac} dev flannel.1 permanent`],
  fdb: [`fdb ${mac} dst ${publicIP} dev flannel.1 self permanent`],
});

describe('vxlan registerNetwork', () => {
  // The lease, the pod MTU, the device's MTU, state, address and MAC: the backend contract.
  it("creates flannel.1 with upstream's VXLAN settings and a locally administered unicast MAC", async () => {
    const { h, stop } = await start();
    const dev = await h.kernel.getLink('flannel.1');
    assert.ok(dev?.vxlan);
    assert.deepEqual({ ...dev.vxlan, local: dev.vxlan.local?.toString() }, { vni: 1, local: '192.0.2.1', port: 8472, learning: false, gbp: false, link: h.eth0.index });
    assert.equal(parseInt(dev.mac.slice(0, 2), 16) & 0x03, 0x02);
    await stop();
  });

  it('honours VNI, Port, GBP, Learning and MTU', async () => {
    const { h, net, stop } = await start({ backend: { VNI: 42, Port: 4789, GBP: true, Learning: true, MTU: 1400 } });
    const dev = await h.kernel.getLink('flannel.42');
    assert.ok(dev?.vxlan);
    assert.deepEqual([dev.vxlan.vni, dev.vxlan.port, dev.vxlan.gbp, dev.vxlan.learning, dev.mtu], [42, 4789, true, true, 1350]);
    assert.equal(net.mtu, 1350);
    assert.deepEqual(h.subnets.acquired[0]?.attrs.backendData, { VNI: 42, VtepMAC: dev.mac });
    await stop();
  });

  it('keeps a compatible existing device and its MAC (no traffic blip)', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        await h.kernel.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 0, local: ip('192.0.2.1'), linkIndex: h.eth0.index, learning: false, gbp: false, mtu: 1450, mac: MAC_A });
        h.kernel.ops.length = 0;
      },
    });
    assert.ok(!h.kernel.ops.some((op) => op.startsWith('createLink') || op.startsWith('deleteLink')), h.kernel.ops.join('\n'));
    assert.equal((await h.kernel.getLink('flannel.1'))?.mac, MAC_A);
    assert.deepEqual(h.subnets.acquired[0]?.attrs.backendData, { VNI: 1, VtepMAC: MAC_A });
    await stop();
  });

  it('creates a missing device with the VtepMAC the node published before (kube annotation), not a random one', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        Object.assign(h.subnets, { storedBackendData: async () => ({ v4: { VNI: 1, VtepMAC: MAC_B.toUpperCase() } }) });
      },
    });
    assert.equal((await h.kernel.getLink('flannel.1'))?.mac, MAC_B);
    assert.deepEqual(h.subnets.acquired[0]?.attrs.backendData, { VNI: 1, VtepMAC: MAC_B });
    await stop();
  });

  it('keeps a live device MAC even when the published one differs', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        await h.kernel.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 0, local: ip('192.0.2.1'), linkIndex: h.eth0.index, learning: false, gbp: false, mtu: 1450, mac: MAC_A });
        Object.assign(h.subnets, { storedBackendData: async () => ({ v4: { VNI: 1, VtepMAC: MAC_B } }) });
      },
    });
    assert.equal((await h.kernel.getLink('flannel.1'))?.mac, MAC_A);
    await stop();
  });

  it('re-creates a device with other settings, keeping its MAC', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        await h.kernel.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 4789, local: ip('192.0.2.1'), linkIndex: h.eth0.index, learning: true, gbp: false, mtu: 1450, mac: MAC_A });
        h.kernel.ops.length = 0;
      },
    });
    assert.deepEqual(h.kernel.ops.slice(0, 2), ['deleteLink flannel.1', 'createLink vxlan flannel.1 vni 1']);
    const dev = await h.kernel.getLink('flannel.1');
    assert.equal(dev?.mac, MAC_A);
    assert.equal(dev?.vxlan?.port, 8472);
    assert.equal(dev?.vxlan?.learning, false);
    assert.equal(h.logged('warn', 'flannel.1 exists with other settings (dstport 4789 (want 8472), learning true (want false))').length, 1, JSON.stringify(h.log.lines));
    assert.deepEqual(h.subnets.acquired[0]?.attrs.backendData, { VNI: 1, VtepMAC: MAC_A });
    await stop();
  });

  it('replaces a stale address from an earlier lease (ff#1850)', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        const dev = await h.kernel.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 0, local: ip('192.0.2.1'), linkIndex: h.eth0.index, learning: false, gbp: false, mtu: 1450 });
        await h.kernel.addAddr(dev.index, { ip: ip('10.244.9.0'), prefix: 32 });
      },
    });
    const dev = await h.kernel.getLink('flannel.1');
    const addrs = await h.kernel.listAddrs(dev?.index, 4);
    assert.deepEqual(addrs.map((a) => `${a.ip.toString()}/${a.prefix}`), ['10.244.1.0/32']);
    assert.equal(h.logged('info', 'replaced stale address 10.244.9.0/32 on flannel.1 with 10.244.1.0/32').length, 1);
    await stop();
  });

  it('disables TX checksum offload once per device, and only warns without ethtool', async () => {
    const calls: string[] = [];
    const runner = recordingRunner((c) => (calls.push([c.command, ...c.args].join(' ')), { code: 127, stderr: 'ethtool: command not found' }));
    const { h, stop } = await start({ init: { disableTxChecksumOffload: true, runCommand: runner } });
    assert.deepEqual(calls, ['ethtool -K flannel.1 tx-checksum-ip-generic off']);
    const warns = h.log.lines.filter((l) => l.level === 'warn' && l.msg.includes('TX checksum offload'));
    assert.deepEqual(
      warns.map((l) => [l.msg, l.fields?.hint]),
      [['could not disable TX checksum offload on flannel.1: ethtool is not installed', 'install ethtool, or run "ethtool -K flannel.1 tx-checksum-ip-generic off" after every start (pods behind NAT may see 63 s stalls otherwise)']],
    );
    await stop();
  });

  it('leaves offloads alone when not asked', async () => {
    const calls: string[] = [];
    const { stop } = await start({ init: { runCommand: recordingRunner((c) => (calls.push(c.command), undefined)) } });
    assert.deepEqual(calls, []);
    await stop();
  });
});

describe('vxlan peers', () => {
  const p1 = peer({ subnet: '10.244.2.0/24', publicIP: '198.51.100.2', backendData: { VNI: 1, VtepMAC: MAC_A } });

  // Programming, updating and removing peers in the kernel: the backend contract. The log lines:
  it('logs each peer added, updated and removed', async () => {
    const { h, stop } = await start({ peers: [p1] });
    assert.deepEqual(h.logged('info', 'peer '), ['peer added: 10.244.2.0/24 via 198.51.100.2']);
    const moved = h.nextPass();
    h.subnets.add(peer({ subnet: '10.244.2.0/24', publicIP: '198.51.100.99', backendData: { VNI: 1, VtepMAC: MAC_A } }));
    await moved;
    const removed = h.nextPass();
    h.subnets.remove(p1);
    await removed;
    assert.deepEqual(h.logged('info', 'peer '), ['peer added: 10.244.2.0/24 via 198.51.100.2', 'peer updated: 10.244.2.0/24 via 198.51.100.99', 'peer removed: 10.244.2.0/24 via 198.51.100.99']);
    await stop();
  });

  it('routes peers on our L2 segment directly with DirectRouting', async () => {
    const near = peer({ subnet: '10.244.4.0/24', publicIP: '192.0.2.44', backendData: { VNI: 1, VtepMAC: MAC_B } });
    const { h, stop } = await start({ backend: { DirectRouting: true }, peers: [p1, near] });
    assert.deepEqual(await kernelState(h.kernel), {
      routes: ['route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink', 'route 10.244.4.0/24 via 192.0.2.44 dev eth0'],
      neighs: [`neigh 10.244.2.0 lladdr ${MAC_A} dev flannel.1 permanent`],
      fdb: [`fdb ${MAC_A} dst 198.51.100.2 dev flannel.1 self permanent`],
    });
    const gone = h.nextPass();
    h.subnets.remove(near);
    await gone;
    assert.deepEqual((await kernelState(h.kernel)).routes, ['route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink']);
    await stop();
  });

  // A peer of another backend type is the backend contract's case; unusable vxlan data is vxlan's own.
  it('skips a peer with unusable data, warning once', async () => {
    const broken = peer({ subnet: '10.244.6.0/24', publicIP: '198.51.100.6', backendData: { VNI: 1, VtepMAC: 'zz' } });
    const { h, stop } = await start({ peers: [p1, broken] });
    assert.deepEqual(await kernelState(h.kernel), vxlanObjects('10.244.2.0/24', '10.244.2.0', MAC_A, '198.51.100.2'));
    assert.equal(h.logged('warn', 'peer 10.244.6.0/24 at 198.51.100.6 has unusable BackendData').length, 1);
    const again = h.nextPass((p) => p.kind === 'full');
    h.kernel.simulateOverrun();
    await again;
    assert.equal(h.logged('warn', 'peer 10.244.6.0/24').length, 1, 'a later full pass does not repeat the warning');
    await stop();
  });

  it('programs 1000 peers in one pass at start', async () => {
    const peers = Array.from({ length: 1000 }, (_, n) => vxlanPeer(n, `198.51.${100 + Math.floor(n / 250)}.${1 + (n % 250)}`));
    const { h, stop } = await start({ peers });
    const [first] = h.passes;
    assert.equal(first?.kind, 'full');
    assert.equal(first?.applied, 3000);
    assert.equal(first?.failed, 0);
    const s = await kernelState(h.kernel);
    assert.equal(s.routes.length, 1000);
    assert.equal(s.neighs.length, 1000);
    assert.equal(s.fdb.length, 1000);
    assert.equal(h.logged('info', 'peer added:').length, 1000);
    await stop();
  });

  it('garbage-collects objects of vanished peers and host-gw leftovers at start, and nothing else', async () => {
    const { h, stop } = await start({
      peers: [p1],
      before: async (h) => {
        const dev = await h.kernel.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 0, local: ip('192.0.2.1'), linkIndex: h.eth0.index, learning: false, gbp: false, mtu: 1450 });
        await h.kernel.setLinkUp(dev.index);
        await h.kernel.replaceNeighbor({ linkIndex: dev.index, ip: ip('10.244.7.0'), mac: MAC_B });
        await h.kernel.appendFdb({ linkIndex: dev.index, mac: MAC_B, dst: ip('198.51.100.7') });
        await h.kernel.replaceRoute({ dst: cidr('10.244.7.0/24'), gateway: ip('10.244.7.0'), linkIndex: dev.index, onlink: true });
        await h.kernel.replaceRoute({ dst: cidr('10.244.8.0/24'), gateway: ip('192.0.2.8'), linkIndex: h.eth0.index });
        await h.kernel.replaceRoute({ dst: cidr('203.0.113.0/24'), gateway: ip('192.0.2.254'), linkIndex: h.eth0.index });
      },
    });
    const s = await kernelState(h.kernel);
    assert.deepEqual(s.routes, ['route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink', 'route 203.0.113.0/24 via 192.0.2.254 dev eth0']);
    assert.deepEqual(s.neighs, [`neigh 10.244.2.0 lladdr ${MAC_A} dev flannel.1 permanent`]);
    assert.deepEqual(s.fdb, [`fdb ${MAC_A} dst 198.51.100.2 dev flannel.1 self permanent`]);
    assert.equal(h.logged('info', 'removed 4 stale kernel object(s) no peer owns').length, 1);
    await stop();
  });

  it('garbage-collects in an empty cluster too', async () => {
    const { h, stop } = await start({
      before: async (h) => {
        await h.kernel.replaceRoute({ dst: cidr('10.244.8.0/24'), gateway: ip('192.0.2.8'), linkIndex: h.eth0.index });
      },
    });
    assert.deepEqual((await kernelState(h.kernel)).routes, []);
    await stop();
  });

  // Repairs of damage done by hand (routes, neighbours, FDB entries, the VTEP's MAC, MTU, address,
  // state, the VTEP itself): the backend contract. How they are triggered:
  it('repairs through the periodic reconcile when no notification arrives', async () => {
    const { h, stop } = await start({ peers: [p1], init: { reconcileIntervalMs: 30, repairDelayMs: 60_000 } });
    await h.kernel.deleteRoute({ dst: cidr('10.244.2.0/24') });
    await h.nextPass((p) => p.kind === 'full' && p.applied === 1);
    assert.equal((await kernelState(h.kernel)).routes.length, 1);
    await stop();
  });

  it('runs a full reconcile after a notification overrun', async () => {
    const { h, stop } = await start({ peers: [p1] });
    const full = h.nextPass((p) => p.kind === 'full');
    h.kernel.simulateOverrun();
    assert.equal((await full).failed, 0);
    assert.equal(h.logged('warn', 'kernel notifications were lost').length, 1);
    await stop();
  });

  it('retries objects the kernel refused', async () => {
    const { h, stop } = await start({
      peers: [p1],
      before: async (h) => h.kernel.failNext('replaceRoute', 'ENOBUFS'),
    });
    assert.equal(h.passes[0]?.failed, 1);
    assert.equal(h.logged('info', 'peer added').length, 0);
    await h.nextPass((p) => p.failed === 0 && p.applied === 1);
    assert.equal((await kernelState(h.kernel)).routes.length, 1);
    assert.equal(h.logged('warn', '1 kernel change(s) failed (ENOBUFS), will retry: install route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink').length, 1);
    assert.equal(h.logged('info', 'peer added: 10.244.2.0/24').length, 1);
    await stop();
  });

  it('batches lease events that arrive while the kernel is busy', async () => {
    const { h, stop } = await start();
    const all = Array.from({ length: 200 }, (_, n) => vxlanPeer(n, `198.51.100.${1 + (n % 250)}`));
    for (const p of all) h.subnets.add(p);
    while ((await kernelState(h.kernel)).routes.length < 200) await h.nextPass();
    assert.ok(h.passes.length < 50, `expected batching, got ${h.passes.length} passes`);
    await stop();
  });
});

describe('vxlan dual stack', () => {
  it('runs flannel-v6.<VNI> next to flannel.<VNI>', async () => {
    const config = networkConfig({ Type: 'vxlan' }, { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
    const p = peer({
      subnet: '10.244.2.0/24',
      publicIP: '198.51.100.2',
      backendData: { VNI: 1, VtepMAC: MAC_A },
      ipv6Subnet: 'fd00:10:244:2::/64',
      publicIPv6: '2001:db8::2',
      backendV6Data: { VNI: 1, VtepMAC: MAC_B },
    });
    const { h, net, stop } = await start({ config, ipv6Subnet: 'fd00:10:244:1::/64', extAddr6: '2001:db8::1/64', peers: [p] });
    const v6 = await h.kernel.getLink('flannel-v6.1');
    assert.equal(v6?.vxlan?.local?.toString(), '2001:db8::1');
    assert.equal(v6?.mtu, 1430);
    assert.equal(net.mtu, 1430);
    assert.deepEqual(h.subnets.acquired[0]?.attrs.backendV6Data, { VNI: 1, VtepMAC: v6?.mac });
    assert.equal(h.subnets.acquired[0]?.attrs.publicIPv6?.toString(), '2001:db8::1');
    assert.deepEqual((await h.kernel.listAddrs(v6?.index, 6)).map((a) => `${a.ip.toString()}/${a.prefix}`), ['fd00:10:244:1::/128']);
    const s6 = await kernelState(h.kernel, 6);
    assert.deepEqual(s6, {
      routes: ['route fd00:10:244:2::/64 via fd00:10:244:2:: dev flannel-v6.1 onlink'],
      neighs: [`neigh fd00:10:244:2:: lladdr ${MAC_B} dev flannel-v6.1 permanent`],
      fdb: [`fdb ${MAC_B} dst 2001:db8::2 dev flannel-v6.1 self permanent`],
    });
    assert.deepEqual(await kernelState(h.kernel, 4), vxlanObjects('10.244.2.0/24', '10.244.2.0', MAC_A, '198.51.100.2'));
    await stop();
  });
});
