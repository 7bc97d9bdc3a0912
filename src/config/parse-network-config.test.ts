import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from './index.ts';
import { BAD_NETCONFS } from '../../test/fixtures/bad-configs.ts';

describe('parseNetworkConfig defaults', () => {
  it('fills upstream defaults for a /16', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    assert.equal(c.enableIPv4, true);
    assert.equal(c.enableIPv6, false);
    assert.equal(c.enableNFTables, false);
    assert.equal(c.v4?.subnetLen, 24);
    assert.equal(c.v4?.subnetMin.toString(), '10.244.1.0/24');
    assert.equal(c.v4?.subnetMax.toString(), '10.244.255.0/24');
    assert.equal(c.backend.type, 'vxlan');
    assert.equal(c.v6, undefined);
  });
  it('uses prefix+2 for networks smaller than a /22', () => {
    const c = parseNetworkConfig('{"Network":"10.10.0.0/26"}');
    assert.equal(c.v4?.subnetLen, 28);
    assert.equal(c.v4?.subnetMin.toString(), '10.10.0.16/28');
    assert.equal(c.v4?.subnetMax.toString(), '10.10.0.48/28');
    assert.equal(parseNetworkConfig('{"Network":"10.0.0.0/22"}').v4?.subnetLen, 24);
    assert.equal(parseNetworkConfig('{"Network":"10.0.0.0/23"}').v4?.subnetLen, 25);
  });
  it('honours explicit SubnetLen/Min/Max and lower-cases the backend type', () => {
    const c = parseNetworkConfig('{"Network":"10.5.0.0/16","SubnetLen":26,"SubnetMin":"10.5.10.0","SubnetMax":"10.5.20.192","Backend":{"Type":"Host-GW","DirectRouting":true}}');
    assert.equal(c.v4?.subnetLen, 26);
    assert.equal(c.v4?.subnetMin.toString(), '10.5.10.0/26');
    assert.equal(c.v4?.subnetMax.toString(), '10.5.20.192/26');
    assert.equal(c.backend.type, 'host-gw');
    assert.deepEqual(c.backend.raw, { Type: 'Host-GW', DirectRouting: true });
  });
  it('handles IPv6 only and dual stack', () => {
    const six = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56"}');
    assert.equal(six.v4, undefined);
    assert.equal(six.v6?.subnetLen, 64);
    assert.equal(six.v6?.subnetMin.toString(), 'fd00:10:244:1::/64');
    assert.equal(six.v6?.subnetMax.toString(), 'fd00:10:244:ff::/64');
    const small = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/120"}');
    assert.equal(small.v6?.subnetLen, 122);
    const dual = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","EnableNFTables":true}');
    assert.ok(dual.v4 && dual.v6 && dual.enableNFTables);
  });
  it('reads keys case-insensitively like Go and warns about unknown ones', () => {
    const c = parseNetworkConfig('{"network":"10.244.0.0/16","subnetlen":25,"Netwrok":"x"}');
    assert.equal(c.v4?.subnetLen, 25);
    assert.deepEqual(c.warnings, [
      'key "network" is read as "Network"',
      'key "subnetlen" is read as "SubnetLen"',
      'unknown key "Netwrok" is ignored (known keys: Network, IPv6Network, EnableIPv4, EnableIPv6, EnableNFTables, SubnetLen, SubnetMin, SubnetMax, IPv6SubnetLen, IPv6SubnetMin, IPv6SubnetMax, Backend)',
    ]);
  });
});

describe('parseNetworkConfig rejects bad input with one exact message', () => {
  for (const c of BAD_NETCONFS) {
    it(c.name, () => {
      assert.throws(
        () => parseNetworkConfig(c.netconf ?? '', { source: 'net-conf.json' }),
        (err: Error & { code?: string; hint?: string }) => {
          assert.equal(err.message, `net-conf.json: ${c.error}`);
          assert.equal(err.code, 'E_NETCONF_INVALID');
          assert.ok(err.hint);
          return true;
        },
      );
    });
  }
});
