/**
 * Traffic rules against the real iptables-restore / nft, inside a throwaway network namespace
 * (never the root one): exact upstream rule texts, repair by resync, idempotence, clean-up, and
 * foreign chains (KUBE-TEST) surviving all of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../../src/ip/index.ts';
import { createMemoryLogger } from '../../src/log/index.ts';
import { createTrafficManager, netnsRunner, type TrafficManager, type TrafficNetworks } from '../../src/traffic/index.ts';
import { Netns, deleteNamespaces, uniquePrefix } from '../harness/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const skip = skipUnlessPrivileged(['iptables', 'ip6tables', 'iptables-restore', 'nft']);
const prefix = uniquePrefix('flt');
const timeout = (): AbortSignal => AbortSignal.timeout(30_000);

const nets: TrafficNetworks = {
  v4: { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') },
  v6: { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') },
};

const MASQ_V4 = [
  '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
  '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
];
const MASQ_V6 = [
  '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s fd00:10:244:1::/64 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN',
  '-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
  '-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
];
const NAT_JUMP = '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG';
const FWD_JUMP = '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD';
const fwd = (net: string): string[] => [
  `-A FLANNEL-FWD -s ${net} -m comment --comment "flanneld forward" -j ACCEPT`,
  `-A FLANNEL-FWD -d ${net} -m comment --comment "flanneld forward" -j ACCEPT`,
];

const NFT_V4 = `table ip flannel-ipv4 {
	comment "rules for flannel-ipv4"
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 return
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

const NFT_V6 = `table ip6 flannel-ipv6 {
	comment "rules for flannel-ipv6"
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 return
		ip6 saddr fd00:10:244:1::/64 ip6 daddr fd00:10:244::/56 return
		ip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return
		ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return
		ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random
		ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade fully-random
	}

	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip6 saddr fd00:10:244::/56 accept
		ip6 daddr fd00:10:244::/56 accept
	}
}
`;

/** A foreign chain like kube-proxy's: must survive every flannel operation untouched. */
const KUBE_TEST = ['-N KUBE-TEST', '-A POSTROUTING -j KUBE-TEST', '-A KUBE-TEST -s 192.0.2.0/24 -j MASQUERADE'];

after(() => deleteNamespaces(prefix));

describe('traffic rules, iptables engine (namespace)', { skip }, () => {
  let ns: Netns;
  let tm: TrafficManager;
  const rules = (tool: string, table: string): string[] => ns.exec(tool, ['-w', '-S', '-t', table]).trim().split('\n');
  const ours = (tool: string, table: string): string[] => rules(tool, table).filter((l) => l.includes('FLANNEL'));
  const kube = (): string[] => rules('iptables', 'nat').filter((l) => l.includes('KUBE-TEST'));

  before(() => {
    ns = Netns.create(`${prefix}-ipt`);
    tm = createTrafficManager({ kind: 'iptables', runner: netnsRunner(ns.name), log: createMemoryLogger() });
  });
  after(() => ns?.delete());

  it('installs upstream rules for both families', async () => {
    await tm.ensureForwardRules(nets, timeout());
    await tm.ensureMasqRules(nets, { fullyRandom: true }, timeout());
    assert.deepEqual(rules('iptables', 'nat'), ['-P PREROUTING ACCEPT', '-P INPUT ACCEPT', '-P OUTPUT ACCEPT', '-P POSTROUTING ACCEPT', '-N FLANNEL-POSTRTG', NAT_JUMP, ...MASQ_V4]);
    assert.deepEqual(rules('iptables', 'filter'), ['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT', '-N FLANNEL-FWD', FWD_JUMP, ...fwd('10.244.0.0/16')]);
    assert.deepEqual(ours('ip6tables', 'nat'), ['-N FLANNEL-POSTRTG', NAT_JUMP, ...MASQ_V6]);
    assert.deepEqual(ours('ip6tables', 'filter'), ['-N FLANNEL-FWD', FWD_JUMP, ...fwd('fd00:10:244::/56')]);
    assert.ok(!rules('iptables', 'nat').some((l) => l.startsWith('-A FLANNEL-FWD')), 'FLANNEL-FWD never lands in nat');
  });

  it('repairs a rule deleted by hand and leaves KUBE-TEST untouched', async () => {
    ns.exec('iptables', ['-w', '-t', 'nat', '-N', 'KUBE-TEST']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'KUBE-TEST', '-s', '192.0.2.0/24', '-j', 'MASQUERADE']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'KUBE-TEST']);
    const kubeBefore = kube();
    assert.deepEqual(kubeBefore, KUBE_TEST);

    assert.deepEqual(await tm.resync(timeout()), { repaired: [] });
    ns.exec('iptables', ['-w', '-t', 'nat', '-D', 'FLANNEL-POSTRTG', '3']);
    ns.exec('ip6tables', ['-w', '-t', 'filter', '-D', 'FLANNEL-FWD', '1']);
    const { repaired } = await tm.resync(timeout());
    assert.deepEqual(repaired.sort(), [
      'iptables ipv4 nat/FLANNEL-POSTRTG: 1 rule(s) missing, 0 unexpected',
      'iptables ipv6 filter/FLANNEL-FWD: 1 rule(s) missing, 0 unexpected',
    ]);
    assert.deepEqual(ours('iptables', 'nat'), ['-N FLANNEL-POSTRTG', NAT_JUMP, ...MASQ_V4]);
    assert.deepEqual(ours('ip6tables', 'filter'), ['-N FLANNEL-FWD', FWD_JUMP, ...fwd('fd00:10:244::/56')]);
    assert.deepEqual(kube(), kubeBefore);
    assert.deepEqual(await tm.resync(timeout()), { repaired: [] });
  });

  it('re-adds a deleted jump and drops a stray one, keeping KUBE-TEST', async () => {
    ns.exec('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'FLANNEL-POSTRTG']);
    const { repaired } = await tm.resync(timeout());
    assert.deepEqual(repaired, ['iptables ipv4 nat/POSTROUTING: jump to FLANNEL-POSTRTG missing', 'iptables ipv4 nat/POSTROUTING: 1 extra jump(s) to FLANNEL-POSTRTG']);
    assert.deepEqual(
      rules('iptables', 'nat').filter((l) => l.startsWith('-A POSTROUTING')),
      ['-A POSTROUTING -j KUBE-TEST', NAT_JUMP],
    );
    assert.deepEqual(kube(), KUBE_TEST);
  });

  it('is idempotent: ensuring twice adds no duplicate jump or rule', async () => {
    const before = rules('iptables', 'nat').join('\n') + rules('ip6tables', 'filter').join('\n');
    await tm.ensureForwardRules(nets, timeout());
    await tm.ensureMasqRules(nets, { fullyRandom: true }, timeout());
    await tm.ensureMasqRules(nets, { fullyRandom: true }, timeout());
    assert.equal(rules('iptables', 'nat').join('\n') + rules('ip6tables', 'filter').join('\n'), before);
    assert.equal(rules('iptables', 'nat').filter((l) => l === NAT_JUMP).length, 1);
  });

  it('switches to plain MASQUERADE when fully-random is disabled', async () => {
    await tm.ensureMasqRules({ v4: nets.v4 }, { fullyRandom: false }, timeout());
    assert.deepEqual(
      ours('iptables', 'nat').filter((l) => l.includes('MASQUERADE')),
      MASQ_V4.slice(4).map((l) => l.replace(' --random-fully', '')),
    );
    // v6 was dropped from the masquerade set: its chain and jump are gone, its forward rules stay.
    assert.deepEqual(ours('ip6tables', 'nat'), []);
    assert.equal(ours('ip6tables', 'filter').length, 4);
  });

  it('cleanUp removes every FLANNEL chain and jump; KUBE-TEST stays', async () => {
    await tm.cleanUp(timeout());
    for (const tool of ['iptables', 'ip6tables']) {
      for (const table of ['nat', 'filter']) assert.deepEqual(ours(tool, table), [], `${tool} -t ${table}`);
    }
    assert.deepEqual(kube(), KUBE_TEST);
    await tm.cleanUp(timeout()); // nothing left: still fine
    assert.deepEqual(await tm.resync(timeout()), { repaired: [] });
    assert.deepEqual(ours('iptables', 'nat'), []);
  });
});

describe('traffic rules, nftables engine (namespace)', { skip }, () => {
  let ns: Netns;
  let tm: TrafficManager;
  const make = (): TrafficManager => createTrafficManager({ kind: 'nftables', runner: netnsRunner(ns.name), log: createMemoryLogger() });
  const table = (family: string, name: string): string => ns.exec('nft', ['list', 'table', family, name]);
  const tables = (): string[] => ns.exec('nft', ['list', 'tables']).trim().split('\n').filter(Boolean);
  const foreign = (): string => ns.exec('nft', ['list', 'table', 'ip', 'kube-test']) + ns.exec('iptables', ['-w', '-S', '-t', 'nat']);

  before(() => {
    ns = Netns.create(`${prefix}-nft`);
    tm = make();
    ns.exec('nft', ['-f', '-'], 'table ip kube-test {\n\tchain KUBE-TEST {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 192.0.2.0/24 masquerade\n\t}\n}\n');
    ns.exec('iptables', ['-w', '-t', 'nat', '-N', 'KUBE-TEST']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'KUBE-TEST', '-s', '192.0.2.0/24', '-j', 'MASQUERADE']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'KUBE-TEST']);
  });
  after(() => ns?.delete());

  it('installs both tables', async () => {
    await tm.ensureMasqRules(nets, { fullyRandom: true }, timeout());
    await tm.ensureForwardRules(nets, timeout());
    assert.equal(table('ip', 'flannel-ipv4'), NFT_V4);
    assert.equal(table('ip6', 'flannel-ipv6'), NFT_V6);
  });

  it('repairs a rule deleted by hand; foreign tables and chains stay', async () => {
    const before = foreign();
    assert.deepEqual(await tm.resync(timeout()), { repaired: [] });
    const listing = ns.exec('nft', ['-a', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg']);
    const handle = /ip saddr 10\.244\.0\.0\/16 ip daddr 10\.244\.1\.0\/24 return # handle (\d+)/.exec(listing)?.[1];
    assert.ok(handle, listing);
    ns.exec('nft', ['delete', 'rule', 'ip', 'flannel-ipv4', 'postrtg', 'handle', handle]);
    assert.deepEqual(await tm.resync(timeout()), { repaired: ['nftables ipv4 ip flannel-ipv4/postrtg: 1 rule(s) missing, 0 unexpected'] });
    assert.equal(table('ip', 'flannel-ipv4'), NFT_V4);
    assert.equal(foreign(), before);
  });

  it('re-creates a table deleted by hand', async () => {
    ns.exec('nft', ['delete', 'table', 'ip6', 'flannel-ipv6']);
    assert.deepEqual(await tm.resync(timeout()), { repaired: ['nftables ipv6 table ip6 flannel-ipv6: missing'] });
    assert.equal(table('ip6', 'flannel-ipv6'), NFT_V6);
  });

  it('is idempotent: ensuring again leaves the table (and its handles) alone', async () => {
    const before = ns.exec('nft', ['-a', 'list', 'ruleset']);
    await tm.ensureMasqRules(nets, { fullyRandom: true }, timeout());
    await tm.ensureForwardRules(nets, timeout());
    assert.equal(ns.exec('nft', ['-a', 'list', 'ruleset']), before);
  });

  it('a restarted manager keeps the other kind while replacing one', async () => {
    const restarted = make();
    const other = { network: Cidr.parse('10.245.0.0/16'), podSubnet: Cidr.parse('10.245.1.0/24') };
    await restarted.ensureForwardRules({ v4: other }, timeout());
    const text = table('ip', 'flannel-ipv4');
    assert.match(text, /ip saddr 10\.245\.0\.0\/16 accept/);
    assert.ok(text.includes(NFT_V4.slice(NFT_V4.indexOf('\tchain postrtg {'), NFT_V4.indexOf('\n\n\tchain forward'))), text);
    await tm.ensureForwardRules(nets, timeout());
    assert.equal(table('ip', 'flannel-ipv4'), NFT_V4);
  });

  it('cleanUp deletes both flannel tables; kube-test stays', async () => {
    const before = foreign();
    await tm.cleanUp(timeout());
    assert.deepEqual(tables().filter((t) => t.includes('flannel')), []);
    assert.ok(tables().includes('table ip kube-test'));
    assert.equal(foreign(), before);
    await tm.cleanUp(timeout()); // nothing left: still fine
  });
});
