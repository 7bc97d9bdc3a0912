import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { FakeKernel, defaultRouteLink, isKernelErrno, listFdb, listNeighbors, listRoutes, replaceAddrs, type KernelEvent, type Link } from './index.ts';

const ip = (s: string): IPAddress => IPAddress.parse(s);
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FakeKernel', () => {
  let k: FakeKernel;
  let eth0: Link;
  beforeEach(() => {
    k = new FakeKernel();
    eth0 = k.addLink({ name: 'eth0', mtu: 1500, addrs: [{ ip: ip('192.0.2.11'), prefix: 24 }] });
  });

  const vxlan = (): Promise<Link> =>
    k.createLink({ kind: 'vxlan', name: 'flannel.1', vni: 1, port: 8472, local: ip('192.0.2.11'), linkIndex: eth0.index, learning: false, gbp: false, mtu: 1450, mac: '0E:11:22:33:44:55' });

  it('creates a VXLAN device as flannel configures it', async () => {
    const link = await vxlan();
    assert.equal(link.kind, 'vxlan');
    assert.equal(link.mtu, 1450);
    assert.equal(link.mac, '0e:11:22:33:44:55');
    assert.equal(link.up, false);
    assert.deepEqual({ ...link.vxlan, local: link.vxlan?.local?.toString() }, { vni: 1, local: '192.0.2.11', port: 8472, learning: false, gbp: false, link: eth0.index });
    assert.equal((await k.getLink('flannel.1'))?.index, link.index);
    assert.equal((await k.getLinkByIndex(link.index))?.name, 'flannel.1');
    assert.deepEqual((await k.listLinks()).map((l) => l.name), ['lo', 'eth0', 'flannel.1']);
  });

  it('creates a WireGuard device: layer 3, no hardware address, down', async () => {
    const wg = await k.createLink({ kind: 'wireguard', name: 'flannel-wg', mtu: 1420 });
    assert.deepEqual({ kind: wg.kind, mtu: wg.mtu, mac: wg.mac, up: wg.up }, { kind: 'wireguard', mtu: 1420, mac: '', up: false });
    assert.deepEqual(k.ops, ['createLink wireguard flannel-wg']);
    await assert.rejects(k.createLink({ kind: 'wireguard', name: 'flannel-wg' }), { code: 'EEXIST', message: 'create link flannel-wg: EEXIST (File exists)' });
  });

  it('lists through the capabilities, and an aborted listing rejects with the reason', async () => {
    await k.replaceRoute({ dst: Cidr.parse('10.5.0.0/16'), gateway: ip('192.0.2.1'), linkIndex: eth0.index });
    assert.deepEqual((await listRoutes(k, 4)).map((r) => r.dst.toString()), ['192.0.2.0/24', '10.5.0.0/16']);
    const stop = new AbortController();
    stop.abort(new Error('shutting down'));
    await assert.rejects(listRoutes(k, 4, { signal: stop.signal }), { message: 'shutting down' });
    await assert.rejects(listNeighbors(k, eth0.index, 4, { signal: stop.signal }), { message: 'shutting down' });
    await assert.rejects(listFdb(k, eth0.index, { signal: stop.signal }), { message: 'shutting down' });
    await assert.rejects(k.listLinks({ signal: stop.signal }), { message: 'shutting down' });
  });

  it('fails like the kernel, with op and object in the message', async () => {
    await vxlan();
    await assert.rejects(vxlan(), (err: unknown) => {
      assert.ok(err instanceof KernelError);
      assert.equal(err.code, 'EEXIST');
      assert.equal(err.message, 'create link flannel.1: EEXIST (File exists)');
      return true;
    });
    await assert.rejects(k.deleteLink('nosuch'), { code: 'ENODEV', message: 'delete link nosuch: ENODEV (No such device)' });
    await assert.rejects(k.deleteRoute({ dst: Cidr.parse('10.9.0.0/16') }), { code: 'ESRCH' });
    await assert.rejects(k.deleteNeighbor({ linkIndex: eth0.index, ip: ip('10.1.1.1') }), { code: 'ENOENT' });
    await assert.rejects(k.delAddr(eth0.index, { ip: ip('10.1.1.1'), prefix: 32 }), { code: 'EADDRNOTAVAIL' });
    await assert.rejects(k.createLink({ kind: 'vxlan', name: 'big', vni: 2, port: 0, linkIndex: eth0.index, learning: false, gbp: false, mtu: 1480 }), { code: 'EINVAL' });
  });

  it('programs a peer: address, neighbour, fdb, onlink route', async () => {
    const vx = await vxlan();
    await k.addAddr(vx.index, { ip: ip('10.244.1.0'), prefix: 32 });
    const route = { dst: Cidr.parse('10.244.2.0/24'), gateway: ip('10.244.2.0'), linkIndex: vx.index, onlink: true };
    await assert.rejects(k.replaceRoute(route), { code: 'ENETDOWN' }, 'a down link takes no routes');
    await k.setLinkUp('flannel.1');
    await k.replaceRoute(route);
    await k.replaceRoute(route); // replace is idempotent
    await k.replaceNeighbor({ linkIndex: vx.index, ip: ip('10.244.2.0'), mac: '0e:aa:bb:cc:dd:ee' });
    await k.appendFdb({ linkIndex: vx.index, mac: '0e:aa:bb:cc:dd:ee', dst: ip('192.0.2.12') });
    await k.appendFdb({ linkIndex: vx.index, mac: '0e:aa:bb:cc:dd:ee', dst: ip('192.0.2.12') });

    const routes = await k.listRoutes(4, { linkIndex: vx.index });
    assert.equal(routes.length, 1);
    assert.equal(routes[0]?.dst.toString(), '10.244.2.0/24');
    assert.equal(routes[0]?.onlink, true);
    assert.equal(routes[0]?.gateway?.toString(), '10.244.2.0');
    assert.deepEqual((await k.listNeighbors(vx.index, 4)).map((n) => [n.ip.toString(), n.mac, n.state]), [['10.244.2.0', '0e:aa:bb:cc:dd:ee', 'permanent']]);
    assert.deepEqual((await k.listFdb(vx.index)).map((e) => [e.mac, e.dst?.toString(), e.self, e.permanent]), [['0e:aa:bb:cc:dd:ee', '192.0.2.12', true, true]]);
    assert.deepEqual(
      (await k.listAddrs(vx.index, 4)).map((a) => `${a.ip.toString()}/${a.prefix}`),
      ['10.244.1.0/32'],
    );

    const lookup = await k.routeGet(ip('10.244.2.7'));
    assert.equal(lookup.linkIndex, vx.index);
    assert.equal(lookup.gateway?.toString(), '10.244.2.0');

    await k.deleteFdb({ linkIndex: vx.index, mac: '0e:aa:bb:cc:dd:ee', dst: ip('192.0.2.12') });
    await k.deleteNeighbor({ linkIndex: vx.index, ip: ip('10.244.2.0') });
    await k.deleteRoute({ dst: Cidr.parse('10.244.2.0/24') });
    assert.equal((await k.listFdb(vx.index)).length, 0);
    assert.equal((await k.listNeighbors(vx.index, 4)).length, 0);
    assert.equal((await k.listRoutes(4, { linkIndex: vx.index })).length, 0);
    assert.deepEqual(k.ops.slice(0, 3), ['createLink vxlan flannel.1 vni 1', 'addAddr 10.244.1.0/32 dev 3', 'setLinkUp flannel.1']);
  });

  it('requires a reachable gateway unless onlink', async () => {
    await assert.rejects(k.replaceRoute({ dst: Cidr.parse('10.5.0.0/16'), gateway: ip('203.0.113.1'), linkIndex: eth0.index }), {
      code: 'ENETUNREACH',
      message: 'replace route 10.5.0.0/16 via 203.0.113.1 dev 2: ENETUNREACH (Network is unreachable)',
    });
    await k.replaceRoute({ dst: Cidr.parse('10.5.0.0/16'), gateway: ip('192.0.2.1'), linkIndex: eth0.index });
  });

  it('finds the default route interface and answers route get', async () => {
    assert.equal(await defaultRouteLink(k, 4), undefined);
    await k.replaceRoute({ dst: Cidr.parse('0.0.0.0/0'), gateway: ip('192.0.2.1'), linkIndex: eth0.index });
    assert.equal((await defaultRouteLink(k, 4))?.name, 'eth0');
    assert.deepEqual(await k.routeGet(ip('198.51.100.7')), { linkIndex: eth0.index, src: ip('192.0.2.11'), gateway: ip('192.0.2.1') });
    await assert.rejects(k.routeGet(ip('fd00::1')), { code: 'ENETUNREACH' });
  });

  it('drops routes when a link goes down and restores connected routes when it comes up', async () => {
    await k.replaceRoute({ dst: Cidr.parse('10.5.0.0/16'), gateway: ip('192.0.2.1'), linkIndex: eth0.index });
    await k.setLinkDown('eth0');
    assert.equal((await k.listRoutes(4)).length, 0);
    await k.setLinkUp('eth0');
    assert.deepEqual((await k.listRoutes(4)).map((r) => r.dst.toString()), ['192.0.2.0/24']);
  });

  it('replaces addresses but leaves link-local ones alone', async () => {
    await k.addAddr(eth0.index, { ip: ip('fe80::1'), prefix: 64 });
    await k.addAddr(eth0.index, { ip: ip('fd00::5'), prefix: 64 });
    const changes = await replaceAddrs(k, eth0.index, 6, [{ ip: ip('fd00::6'), prefix: 64 }]);
    assert.deepEqual(changes.removed.map((a) => a.ip.toString()), ['fd00::5']);
    assert.deepEqual(changes.added.map((a) => a.ip.toString()), ['fd00::6']);
    assert.deepEqual((await k.listAddrs(eth0.index, 6)).map((a) => a.ip.toString()).sort(), ['fd00::6', 'fe80::1']);
  });

  it('notifies subscribers asynchronously until aborted', async () => {
    const vx = await vxlan();
    await k.setLinkUp(vx.index);
    const events: KernelEvent[] = [];
    const ac = new AbortController();
    k.subscribe(['route', 'fdb'], ac.signal, (e) => events.push(e));
    const route = { dst: Cidr.parse('10.244.2.0/24'), gateway: ip('10.244.2.0'), linkIndex: vx.index, onlink: true };
    await k.replaceRoute(route);
    await k.replaceNeighbor({ linkIndex: vx.index, ip: ip('10.244.2.0'), mac: '0e:aa:bb:cc:dd:ee' }); // not subscribed
    await k.appendFdb({ linkIndex: vx.index, mac: '0e:aa:bb:cc:dd:ee', dst: ip('192.0.2.12') });
    await k.deleteRoute({ dst: route.dst });
    await flush();
    assert.deepEqual(
      events.map((e) => `${e.type}${'action' in e ? ` ${e.action}` : ''}`),
      ['route new', 'fdb new', 'route del'],
    );
    ac.abort();
    await k.replaceRoute(route);
    await flush();
    assert.equal(events.length, 3);
  });

  it('reports neighbour and FDB removal when a link is deleted, and overruns on request', async () => {
    const vx = await vxlan();
    await k.replaceNeighbor({ linkIndex: vx.index, ip: ip('10.244.2.0'), mac: '0e:aa:bb:cc:dd:ee' });
    await k.appendFdb({ linkIndex: vx.index, mac: '0e:aa:bb:cc:dd:ee', dst: ip('192.0.2.12') });
    const events: KernelEvent[] = [];
    k.subscribe(['link', 'neigh', 'fdb'], new AbortController().signal, (e) => events.push(e));
    await k.deleteLink('flannel.1');
    k.simulateOverrun();
    await flush();
    assert.deepEqual(
      events.map((e) => `${e.type}${'action' in e ? ` ${e.action}` : ''}`),
      ['neigh del', 'fdb del', 'link del', 'overrun'],
    );
    assert.equal(await k.getLink('flannel.1'), undefined);
  });

  it('fails the next call when told to', async () => {
    k.failNext('replaceRoute', 'ENOBUFS');
    const route = { dst: Cidr.parse('10.5.0.0/16'), gateway: ip('192.0.2.1'), linkIndex: eth0.index };
    await assert.rejects(k.replaceRoute(route), (err: unknown) => isKernelErrno(err, 'ENOBUFS'));
    await k.replaceRoute(route);
  });

  it('refuses calls after close', async () => {
    await k.close();
    await assert.rejects(k.listLinks(), { code: 'ECLOSED' });
  });
});
