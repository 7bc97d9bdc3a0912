import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr, IPAddress } from '../ip/index.ts';
import { FakeKernel } from '../kernel/index.ts';
import { createMemoryLogger } from '../log/index.ts';
import { resolveExternalInterface } from './external-interface.ts';

const ip = (s: string): IPAddress => IPAddress.parse(s);

function host(): FakeKernel {
  const k = new FakeKernel();
  k.addLink({ name: 'eth0', mtu: 1500, up: true, addrs: [{ ip: ip('192.0.2.10'), prefix: 24 }, { ip: ip('2001:db8::10'), prefix: 64 }] });
  k.addLink({ name: 'eth1', mtu: 9000, up: true, addrs: [{ ip: ip('198.51.100.5'), prefix: 24 }] });
  k.addLink({ name: 'wg0', mtu: 1420, up: true });
  return k;
}

async function withDefaultVia(k: FakeKernel, dev: string, gw: string): Promise<FakeKernel> {
  const link = await k.getLink(dev);
  await k.replaceRoute({ dst: Cidr.parse('0.0.0.0/0'), gateway: ip(gw), linkIndex: link?.index ?? 0 });
  return k;
}

const none = { iface: [], ifaceRegex: [] };

describe('resolveExternalInterface', () => {
  it('defaults to the interface of the default route and logs the choice', async () => {
    const log = createMemoryLogger();
    const ext = await resolveExternalInterface(await withDefaultVia(host(), 'eth1', '198.51.100.1'), none, log);
    assert.equal(ext.name, 'eth1');
    assert.equal(ext.mtu, 9000);
    assert.equal(ext.publicIP?.toString(), '198.51.100.5');
    assert.ok(log.lines.some((l) => l.msg === 'Using interface eth1 (chosen by default route) with address 198.51.100.5'));
  });
  it('takes --iface by name or by address, first match wins', async () => {
    const k = host();
    assert.equal((await resolveExternalInterface(k, { ...none, iface: ['eth9', 'eth1'] }, createMemoryLogger())).name, 'eth1');
    const byIp = await resolveExternalInterface(k, { ...none, iface: ['192.0.2.10'] }, createMemoryLogger());
    assert.equal(byIp.name, 'eth0');
    assert.equal(byIp.ifaceV6Addr?.toString(), '2001:db8::10');
  });
  it('matches --iface-regex against addresses, then names', async () => {
    const k = host();
    assert.equal((await resolveExternalInterface(k, { ...none, ifaceRegex: [/^198\.51\./] }, createMemoryLogger())).name, 'eth1');
    assert.equal((await resolveExternalInterface(k, { ...none, ifaceRegex: [/^eth0$/] }, createMemoryLogger())).name, 'eth0');
  });
  it('follows the route for --iface-can-reach', async () => {
    const k = await withDefaultVia(host(), 'eth0', '192.0.2.1');
    const ext = await resolveExternalInterface(k, { ...none, ifaceCanReach: ip('198.51.100.77') }, createMemoryLogger());
    assert.equal(ext.name, 'eth1');
  });
  it('lets --public-ip override the advertised address but not the local one', async () => {
    const ext = await resolveExternalInterface(host(), { ...none, iface: ['eth0'], publicIP: ip('203.0.113.9') }, createMemoryLogger());
    assert.equal(ext.publicIP?.toString(), '203.0.113.9');
    assert.equal(ext.ifaceAddr?.toString(), '192.0.2.10');
  });
  it('fails clearly for a missing interface, one without addresses, and no default route', async () => {
    const k = host();
    await assert.rejects(resolveExternalInterface(k, { ...none, iface: ['eth7'] }, createMemoryLogger()), {
      code: 'E_IFACE_NOT_FOUND',
      message: 'none of the interfaces given with --iface (eth7) exists on this node',
    });
    await assert.rejects(resolveExternalInterface(k, { ...none, iface: ['wg0'] }, createMemoryLogger()), {
      code: 'E_IFACE_NO_ADDRESS',
      message: 'interface wg0 (chosen by --iface wg0) has no IPv4 or IPv6 address',
    });
    await assert.rejects(resolveExternalInterface(k, none, createMemoryLogger()), { code: 'E_IFACE_NOT_FOUND', message: /no default route/ });
    await assert.rejects(resolveExternalInterface(k, { ...none, ifaceRegex: [/^bond/] }, createMemoryLogger()), { message: /no interface name or address matches --iface-regex \^bond/ });
  });
});
