import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidr, ip } from '../testing/fixtures.ts';
import { int32Of, RouteTable } from './route-table.ts';

const at = (t: RouteTable, dst: string): string => {
  const peer = t.lookup(int32Of(ip(dst)));
  return peer === 0 ? '-' : [peer >>> 24, (peer >>> 16) & 255, (peer >>> 8) & 255, peer & 255].join('.');
};

describe('udp route table', () => {
  it("finds the peer whose subnet holds the destination, anywhere in that subnet", () => {
    const t = new RouteTable(cidr('10.244.0.0/16'), [
      { subnet: cidr('10.244.2.0/24'), publicIP: ip('192.168.50.12') },
      { subnet: cidr('10.244.3.0/24'), publicIP: ip('192.168.50.13') },
    ]);
    assert.equal(t.size, 2);
    assert.equal(at(t, '10.244.2.0'), '192.168.50.12');
    assert.equal(at(t, '10.244.2.77'), '192.168.50.12');
    assert.equal(at(t, '10.244.2.255'), '192.168.50.12');
    assert.equal(at(t, '10.244.3.9'), '192.168.50.13');
    assert.equal(at(t, '10.244.4.1'), '-', 'no peer has it');
    assert.equal(at(t, '10.245.2.1'), '-', 'outside the Network');
    assert.equal(at(t, '192.168.50.12'), '-');
  });

  it('handles addresses with the top bit set (negative as int32) and public IPs above 2^31', () => {
    const t = new RouteTable(cidr('172.16.0.0/12'), [{ subnet: cidr('172.31.255.0/24'), publicIP: ip('203.0.113.250') }]);
    assert.equal(at(t, '172.31.255.4'), '203.0.113.250');
    assert.equal(at(t, '172.15.255.4'), '-');
    assert.equal(at(t, '255.255.255.255'), '-');
  });

  it('takes the longest prefix when peers have subnets of different lengths', () => {
    const t = new RouteTable(cidr('10.0.0.0/8'), [
      { subnet: cidr('10.1.0.0/16'), publicIP: ip('192.0.2.1') },
      { subnet: cidr('10.1.7.0/24'), publicIP: ip('192.0.2.2') },
      { subnet: cidr('10.1.7.128/32'), publicIP: ip('192.0.2.3') },
    ]);
    assert.equal(at(t, '10.1.0.1'), '192.0.2.1');
    assert.equal(at(t, '10.1.7.1'), '192.0.2.2');
    assert.equal(at(t, '10.1.7.128'), '192.0.2.3');
    assert.equal(at(t, '10.1.7.129'), '192.0.2.2');
  });

  it('leaves out subnets outside the Network, IPv6 and zero addresses', () => {
    const t = new RouteTable(cidr('10.244.0.0/16'), [
      { subnet: cidr('10.99.0.0/24'), publicIP: ip('192.0.2.1') },
      { subnet: cidr('fd00::/64'), publicIP: ip('192.0.2.2') },
      { subnet: cidr('10.244.9.0/24'), publicIP: ip('0.0.0.0') },
      { subnet: cidr('10.244.8.0/24'), publicIP: ip('192.0.2.8') },
    ]);
    assert.deepEqual(t.routes.map((r) => r.subnet.toString()), ['10.244.8.0/24']);
    assert.equal(at(t, '10.99.0.1'), '-');
    assert.equal(at(t, '10.244.9.1'), '-');
  });

  it('holds a large cluster: 4000 peers in a /12, every one found', () => {
    const routes = Array.from({ length: 4000 }, (_, n) => ({ subnet: cidr(`10.${16 + (n >> 8)}.${n & 255}.0/24`), publicIP: ip(`192.0.${2 + (n >> 8)}.${n & 255}`) }));
    const t = new RouteTable(cidr('10.16.0.0/12'), routes);
    assert.equal(t.size, 4000);
    for (let n = 0; n < 4000; n += 97) assert.equal(at(t, `10.${16 + (n >> 8)}.${n & 255}.9`), `192.0.${2 + (n >> 8)}.${n & 255}`);
  });
});
