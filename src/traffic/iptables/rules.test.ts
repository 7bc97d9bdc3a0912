import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../../ip/index.ts';
import { forwardChain, masqChain } from './rules.ts';

const v4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const v6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };

describe('iptables rules (upstream texts)', () => {
  it('masquerades IPv4 with --random-fully', () => {
    const c = masqChain(v4, true);
    assert.equal(c.table, 'nat');
    assert.equal(c.chain, 'FLANNEL-POSTRTG');
    assert.equal(c.parent, 'POSTROUTING');
    assert.equal(c.jump, '-m comment --comment "flanneld masq" -j FLANNEL-POSTRTG');
    assert.deepEqual(c.rules, [
      '-m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    ]);
  });

  it('masquerades IPv6 against ff00::/8, without --random-fully when off', () => {
    assert.deepEqual(masqChain(v6, false).rules, [
      '-m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-s fd00:10:244:1::/64 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j RETURN',
      '-s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN',
      '! -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN',
      '-s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE',
      '! -s fd00:10:244::/56 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j MASQUERADE',
    ]);
  });

  it('accepts forwarded cluster traffic in FLANNEL-FWD', () => {
    const c = forwardChain(v4.network);
    assert.equal(c.table, 'filter');
    assert.equal(c.chain, 'FLANNEL-FWD');
    assert.equal(c.parent, 'FORWARD');
    assert.equal(c.jump, '-m comment --comment "flanneld forward" -j FLANNEL-FWD');
    assert.deepEqual(c.rules, [
      '-s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    ]);
  });
});
