/**
 * The udp backend through its factory, two nodes on an in-memory wire (FakeTunAddon under the
 * real src/tun wrappers, the real packet path and data plane): packets between pods, drops and
 * their reports, and every start-up error leaving nothing behind.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { BackendError, ConfigError } from '../../errors/index.ts';
import type { Network } from '../backend.ts';
import { harness, kernelLines, networkConfig, peer, type Harness } from '../testing/fixtures.ts';
import { udp } from './index.ts';
import { nativeUdpIo } from './io.ts';
import { FakeTunAddon, FakeWire, systemError } from './testing/fake-addon.ts';
import { addressAt, headerChecksumOk, ipv4Packet } from './testing/packets.ts';

const NETWORK = '10.244.0.0/16';
const config = networkConfig({ Type: 'udp' }, { Network: NETWORK });

interface Node {
  h: Harness;
  addon: FakeTunAddon;
  net: Network;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await delay(5);
  }
}

function machine(n: number, wire: FakeWire, peers: number[]): { h: Harness; addon: FakeTunAddon } {
  const h = harness({ config, subnet: `10.244.${n}.0/24`, extAddr: `192.0.2.${n}/24`, peers: peers.map((p) => peer({ subnet: `10.244.${p}.0/24`, publicIP: `192.0.2.${p}`, backendType: 'udp' })) });
  return { h, addon: new FakeTunAddon(h.kernel, wire) };
}

async function startNode(t: TestContext, n: number, wire: FakeWire, peers: number[], statsIntervalMs = 60_000): Promise<Node> {
  const { h, addon } = machine(n, wire, peers);
  const net = await udp({ io: nativeUdpIo(() => addon), statsIntervalMs }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(15_000));
  const ac = new AbortController();
  const done = net.run(ac.signal);
  t.after(async () => {
    ac.abort();
    await done;
  });
  await until(`node ${n} pumping with its peers routed`, () => addon.pump !== undefined && h.log.lines.filter((l) => l.msg.startsWith('Subnet added')).length === peers.length);
  return { h, addon, net };
}

describe('udp backend', () => {
  it('carries a packet from a pod on one node to a pod on another: the same bytes in a UDP datagram to PublicIP:8285, TTL one lower at each end', async (t) => {
    const wire = new FakeWire();
    const a = await startNode(t, 1, wire, [2]);
    const b = await startNode(t, 2, wire, [1]);
    assert.equal(a.net.mtu, 1472);
    assert.equal(a.net.lease.attrs.backendType, 'udp');
    assert.equal(a.net.lease.attrs.backendData, undefined, 'no BackendData, as upstream');
    const sent = ipv4Packet({ src: '10.244.1.5', dst: '10.244.2.7', proto: 6, ttl: 63, payload: 1400 });
    a.addon.fromTun([sent]);

    assert.equal(wire.sent.length, 1);
    const d = wire.sent[0];
    assert.equal(d?.from, '192.0.2.1:8285');
    assert.equal(d?.to, '192.0.2.2:8285');
    assert.equal(d?.payload.length, sent.length, 'the payload is the inner packet as is: no header of our own');
    const arrived = b.addon.written.get('flannel0')?.[0];
    assert.ok(arrived, 'written to the peer node\'s flannel0');
    assert.equal(arrived[8], 61);
    assert.ok(headerChecksumOk(arrived));
    assert.deepEqual([...arrived.subarray(12)], [...sent.subarray(12)], 'addresses and payload untouched');
  });

  it('drops a packet for a subnet no peer holds, counts it, answers ICMP network unreachable, and reports drops periodically (never per packet)', async (t) => {
    const wire = new FakeWire();
    const a = await startNode(t, 1, wire, [2], 40);
    const burst = Array.from({ length: 100 }, (_, i) => ipv4Packet({ src: '10.244.1.5', dst: `10.244.9.${i}`, proto: 17 }));
    a.addon.fromTun(burst);
    assert.equal(wire.sent.length, 0, 'nothing sent');
    const replies = a.addon.written.get('flannel0') ?? [];
    assert.equal(replies.length, 100);
    assert.equal(addressAt(replies[0] as Uint8Array, 12), '10.244.9.0', 'from the unreachable address');
    await until('a drop report', () => a.h.log.lines.some((l) => l.msg.startsWith('udp: in the last')));
    const reports = a.h.log.lines.filter((l) => l.msg.startsWith('udp: in the last'));
    assert.deepEqual(
      reports.map((l) => `${l.level}: ${l.msg}`),
      ["warn: udp: in the last 0.04 s dropped 100 packet(s) for addresses in no peer's subnet (latest to 10.244.9.99)"],
    );
    await delay(150);
    assert.equal(a.h.log.lines.filter((l) => l.msg.startsWith('udp: in the last')).length, 1, 'no report when nothing more was dropped');
  });

  it('drops from the wire a packet for another subnet, and one whose TTL runs out', async (t) => {
    const wire = new FakeWire();
    const b = await startNode(t, 2, wire, [1]);
    wire.deliver({ from: '192.0.2.1:8285', to: '192.0.2.2:8285', payload: ipv4Packet({ src: '10.244.1.5', dst: '10.244.3.1' }) });
    wire.deliver({ from: '192.0.2.1:8285', to: '192.0.2.2:8285', payload: ipv4Packet({ src: '10.244.1.5', dst: '10.244.2.1', ttl: 1 }) });
    wire.deliver({ from: '192.0.2.1:8285', to: '192.0.2.2:8285', payload: ipv4Packet({ src: '10.244.1.5', dst: '10.244.2.1' }) });
    const written = b.addon.written.get('flannel0') ?? [];
    assert.equal(written.length, 1, 'only the packet for this node, with TTL to spare');
    assert.equal(addressAt(written[0] as Uint8Array, 16), '10.244.2.1');
  });

  it('refuses EnableIPv6 with a ConfigError before anything is opened or leased', async () => {
    const { h, addon } = machine(1, new FakeWire(), []);
    const dual = networkConfig({ Type: 'udp' }, { Network: NETWORK, EnableIPv6: true, IPv6Network: 'fd00:10::/48' });
    const before = await kernelLines(h.kernel);
    await assert.rejects(udp({ io: nativeUdpIo(() => addon) }).create(h.deps).registerNetwork(dual, {}, AbortSignal.timeout(5000)), (err: unknown) => err instanceof ConfigError && err.message === 'the udp backend carries IPv4 only, but EnableIPv6 is true');
    assert.equal(h.subnets.acquired.length, 0);
    assert.deepEqual(await kernelLines(h.kernel), before);
  });

  const startupErrors: Array<{ what: string; arrange(addon: FakeTunAddon, wire: FakeWire): void; message: string; hint: RegExp }> = [
    {
      what: '/dev/net/tun missing',
      arrange: (addon) => void (addon.failNext.openTun = systemError('ENOENT', 'open')),
      message: 'cannot create the TUN device flannel%d: /dev/net/tun does not exist',
      hint: /modprobe tun.*mknod \/dev\/net\/tun c 10 200/,
    },
    {
      what: 'TUNSETIFF refused (no CAP_NET_ADMIN)',
      arrange: (addon) => void (addon.failNext.openTun = systemError('EPERM', 'ioctl TUNSETIFF')),
      message: 'cannot create the TUN device flannel%d: TUNSETIFF was refused (EPERM): flanneld needs CAP_NET_ADMIN',
      hint: /CAP_NET_ADMIN/,
    },
    {
      what: 'the port held by another program',
      arrange: (_addon, wire) => wire.bind('192.0.2.1:8285', new FakeTunAddon(harness({ config }).kernel)),
      message: 'UDP port 8285 on 192.0.2.1 is in use by another program',
      hint: /ss -ulpn 'sport = :8285'/,
    },
  ];
  for (const c of startupErrors) {
    it(`fails start-up on ${c.what} with a BackendError naming it, leaving no lease, device or socket`, async () => {
      const wire = new FakeWire();
      const { h, addon } = machine(1, wire, []);
      c.arrange(addon, wire);
      const before = await kernelLines(h.kernel);
      await assert.rejects(udp({ io: nativeUdpIo(() => addon) }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000)), (err: unknown) => {
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.code, 'E_BACKEND_UNAVAILABLE', 'fatal: the daemon does not retry it');
        assert.equal(err.message, c.message);
        assert.match(err.hint ?? '', c.hint);
        return true;
      });
      assert.equal(h.subnets.acquired.length, 0, 'no lease');
      assert.deepEqual(await kernelLines(h.kernel), before, 'no device');
      if (c.what !== 'the port held by another program') wire.bind('192.0.2.1:8285', addon); // the socket was closed: the port is free
    });
  }

  it('closes the device and the socket when setting flannel0 up fails after the lease (the lease is the undo log\'s)', async () => {
    const wire = new FakeWire();
    const { h, addon } = machine(1, wire, []);
    h.kernel.failNext('setLinkMtu', 'EPERM');
    await assert.rejects(udp({ io: nativeUdpIo(() => addon) }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000)));
    await until('flannel0 removed', async () => (await h.kernel.getLink('flannel0')) === undefined);
    wire.bind('192.0.2.1:8285', addon);
  });

  it('removes flannel0 and frees the port when the run ends, so a restart gets both back', async () => {
    const wire = new FakeWire();
    const { h, addon } = machine(1, wire, []);
    const factory = udp({ io: nativeUdpIo(() => addon) });
    for (let round = 0; round < 2; round++) {
      const net = await factory.create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(5000));
      assert.ok(await h.kernel.getLink('flannel0'), `round ${round}: flannel0`);
      const ac = new AbortController();
      const done = net.run(ac.signal);
      await until('pumping', () => addon.pump !== undefined);
      ac.abort();
      await done;
      assert.equal(await h.kernel.getLink('flannel0'), undefined);
      assert.equal(addon.pump, undefined);
    }
  });
});
