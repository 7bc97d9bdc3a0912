import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../../ip/index.ts';
import { NFT_TABLES, deleteScript, replaceScript, wantedChains } from './script.ts';

const V4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const V6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };

const V4_SCRIPT = `table ip flannel-ipv4 {}
delete table ip flannel-ipv4
table ip flannel-ipv4 {
	comment "rules for flannel-ipv4"
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x4000 == 0x4000 return
		ip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return
		ip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return
		ip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return
		ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random
		ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random
	}
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip saddr 10.244.0.0/16 accept
		ip daddr 10.244.0.0/16 accept
	}
}
`;

describe('nft scripts', () => {
  it('IPv4: masquerade and forward chains, table recreated in one script', () => {
    const t = NFT_TABLES.v4;
    assert.equal(replaceScript(t, wantedChains(t, { masq: { ...V4, fullyRandom: true }, forward: V4.network }, true)), V4_SCRIPT);
  });

  it('IPv6: ip6 table, ip6 matches and ff00::/8, plain masquerade when fully-random is off', () => {
    const t = NFT_TABLES.v6;
    assert.equal(
      replaceScript(t, wantedChains(t, { masq: { ...V6, fullyRandom: false }, forward: V6.network }, true)),
      `table ip6 flannel-ipv6 {}
delete table ip6 flannel-ipv6
table ip6 flannel-ipv6 {
	comment "rules for flannel-ipv6"
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x4000 == 0x4000 return
		ip6 saddr fd00:10:244:1::/64 ip6 daddr fd00:10:244::/56 return
		ip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return
		ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return
		ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade
		ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade
	}
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip6 saddr fd00:10:244::/56 accept
		ip6 daddr fd00:10:244::/56 accept
	}
}
`,
    );
  });

  it('drops fully-random when the kernel lacks it', () => {
    const t = NFT_TABLES.v4;
    const [postrtg] = wantedChains(t, { masq: { ...V4, fullyRandom: true } }, false);
    assert.deepEqual(postrtg?.rules.slice(4), [
      'ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade',
      'ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade',
    ]);
  });

  it('leaves out kinds not asked for or absent', () => {
    const t = NFT_TABLES.v4;
    assert.deepEqual(
      wantedChains(t, { masq: 'absent', forward: V4.network }, true).map((c) => c.name),
      ['forward'],
    );
    assert.deepEqual(wantedChains(t, {}, true), []);
  });

  it('deletes a table whether or not it exists', () => {
    assert.equal(deleteScript(NFT_TABLES.v6), 'table ip6 flannel-ipv6 {}\ndelete table ip6 flannel-ipv6\n');
    assert.equal(replaceScript(NFT_TABLES.v4, []), 'table ip flannel-ipv4 {}\ndelete table ip flannel-ipv4\n');
  });
});
