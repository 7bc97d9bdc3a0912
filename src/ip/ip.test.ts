import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IPAddress, Cidr, subnetKey, parseSubnetKey } from './index.ts';

describe('IPAddress', () => {
  const roundTrips: Array<[string, string]> = [
    ['10.244.1.0', '10.244.1.0'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['fc00::', 'fc00::'],
    ['FC00:0:0:0:0:0:0:1', 'fc00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fd00:10:244:1::', 'fd00:10:244:1::'],
  ];
  for (const [input, want] of roundTrips) {
    it(`formats ${input} as ${want}`, () => assert.equal(IPAddress.parse(input).toString(), want));
  }
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-1', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', 'fe80::1%eth0', ' 1.2.3.4']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => IPAddress.parse(bad), { code: 'E_IP_SYNTAX' }));
  }
  it('converts to and from bytes', () => {
    const a = IPAddress.parse('192.0.2.12');
    assert.deepEqual([...a.toBytes()], [192, 0, 2, 12]);
    assert.ok(IPAddress.fromBytes(a.toBytes()).equals(a));
    const b = IPAddress.parse('fd00::abcd');
    assert.equal(IPAddress.fromBytes(b.toBytes()).toString(), 'fd00::abcd');
  });
  it('writes its bytes in place exactly as toBytes returns them', () => {
    for (const text of ['0.0.0.0', '10.244.3.0', '255.255.255.255', '192.168.50.12', '::', 'fd00:10:244:3::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::1']) {
      const ip = IPAddress.parse(text);
      const target = new Uint8Array(20).fill(0xee);
      ip.writeBytes(target, 2);
      const n = ip.family === 4 ? 4 : 16;
      assert.deepEqual(target.subarray(2, 2 + n), new Uint8Array(ip.toBytes()), text);
      assert.ok(target[1] === 0xee && (2 + n >= 20 || target[2 + n] === 0xee), `${text}: nothing written outside`);
    }
  });

  it('knows multicast, loopback and link-local', () => {
    assert.ok(IPAddress.parse('224.0.0.1').isMulticast());
    assert.ok(!IPAddress.parse('10.0.0.1').isMulticast());
    assert.ok(IPAddress.parse('ff02::1').isMulticast());
    assert.ok(IPAddress.parse('127.1.2.3').isLoopback());
    assert.ok(IPAddress.parse('fe80::1').isLinkLocalUnicast());
    assert.ok(IPAddress.parse('169.254.3.3').isLinkLocalUnicast());
  });
});

describe('Cidr', () => {
  it('masks host bits unless strict', () => {
    assert.equal(Cidr.parse('10.244.1.7/24').toString(), '10.244.1.0/24');
    assert.throws(() => Cidr.parse('10.244.1.7/24', { strict: true }), { code: 'E_CIDR_HOST_BITS' });
  });
  it('rejects bad prefixes', () => {
    assert.throws(() => Cidr.parse('10.0.0.0/33'), { code: 'E_CIDR_PREFIX' });
    assert.throws(() => Cidr.parse('10.0.0.0/'), { code: 'E_CIDR_SYNTAX' });
    assert.throws(() => Cidr.parse('10.0.0.0'), { code: 'E_CIDR_SYNTAX' });
    assert.throws(() => Cidr.parse('fc00::/129'), { code: 'E_CIDR_PREFIX' });
  });
  it('does containment and overlap', () => {
    const net = Cidr.parse('10.244.0.0/16');
    assert.ok(net.contains(IPAddress.parse('10.244.255.1')));
    assert.ok(!net.contains(IPAddress.parse('10.245.0.0')));
    assert.ok(!net.contains(IPAddress.parse('fc00::1')));
    assert.ok(net.containsCidr(Cidr.parse('10.244.3.0/24')));
    assert.ok(!net.containsCidr(Cidr.parse('10.0.0.0/8')));
    assert.ok(net.overlaps(Cidr.parse('10.0.0.0/8')));
    assert.ok(!net.overlaps(Cidr.parse('192.168.0.0/24')));
  });
  it('walks subnets', () => {
    const net = Cidr.parse('10.244.0.0/16');
    assert.equal(net.subnetAt(24, 1n).toString(), '10.244.1.0/24');
    assert.equal(net.subnetAt(24, 255n).toString(), '10.244.255.0/24');
    assert.throws(() => net.subnetAt(24, 256n), { code: 'E_CIDR_RANGE' });
    assert.equal(Cidr.parse('10.244.1.0/24').next().toString(), '10.244.2.0/24');
    assert.equal(Cidr.parse('10.244.1.0/24').firstHost.toString(), '10.244.1.1');
    assert.equal(Cidr.parse('10.244.1.0/24').last.toString(), '10.244.1.255');
    assert.equal(Cidr.parse('fd00:10:244::/56').subnetAt(64, 1n).toString(), 'fd00:10:244:1::/64');
    assert.equal(Cidr.parse('fd00::/8').size, 1n << 120n);
  });
});

describe('subnet keys', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['10.5.52.0-24', '10.5.52.0/24', undefined],
    ['10.5.52.0-24&fc00::-64', '10.5.52.0/24', 'fc00::/64'],
    ['0.0.0.0-0&fd00:10:244:1::-64', undefined, 'fd00:10:244:1::/64'],
  ];
  for (const [key, v4, v6] of cases) {
    it(`round-trips ${key}`, () => {
      const pair = parseSubnetKey(key);
      assert.equal(pair.v4?.toString(), v4);
      assert.equal(pair.v6?.toString(), v6);
      assert.equal(subnetKey(pair), key);
    });
  }
  for (const bad of ['', '10.5.52.0', '10.5.52.1-24', 'fc00::-64', '10.0.0.0-24&10.1.0.0-24', '10.0.0.0-24&fc00::-64&fd00::-64', '0.0.0.0-0']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseSubnetKey(bad)));
  }
});
