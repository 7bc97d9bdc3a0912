import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cidr } from '../../ip/index.ts';
import { diffChain, ensureBlock, removalBlock } from './plan.ts';
import { FORWARD_CHAIN, MASQ_CHAIN, forwardChain, masqChain } from './rules.ts';
import { parseSave, targets } from './save-parser.ts';

const load = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const KUBE_NAT = load('kube-nat.save');
const KUBE_FILTER = load('kube-filter.save');
const EMPTY_NAT = load('empty-nat.save');

const JUMP = '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n';
const RULE3 = '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN\n';

const masq = masqChain({ network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') }, true);
const fwd = forwardChain(Cidr.parse('10.244.0.0/16'));

describe('parseSave', () => {
  it('reads chains and rules of the asked table only', () => {
    const text = `${load('kube-filter.save')}${KUBE_NAT}`;
    const nat = parseSave(text, 'nat');
    assert.deepEqual([...nat.chains], ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'FLANNEL-POSTRTG', 'KUBE-POSTROUTING', 'KUBE-SERVICES']);
    assert.equal(nat.rules.length, 12);
    assert.deepEqual(nat.rules[1], { chain: 'POSTROUTING', spec: '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' });
    assert.ok(!nat.rules.some((r) => r.chain === 'FLANNEL-FWD'));
  });

  it('strips counters printed by iptables-save -c', () => {
    const d = parseSave('*nat\n:POSTROUTING ACCEPT [1:2]\n[7:420] -A POSTROUTING -j FLANNEL-POSTRTG\nCOMMIT\n', 'nat');
    assert.deepEqual(d.rules, [{ chain: 'POSTROUTING', spec: '-j FLANNEL-POSTRTG' }]);
  });

  it('recognises jumps and gotos to a chain, not prefixes of it', () => {
    assert.ok(targets('-m comment --comment "x" -j FLANNEL-FWD', 'FLANNEL-FWD'));
    assert.ok(targets('-g FLANNEL-FWD', 'FLANNEL-FWD'));
    assert.ok(!targets('-j FLANNEL-FWD2', 'FLANNEL-FWD'));
    assert.ok(!targets('-j KUBE-FORWARD', 'FLANNEL-FWD'));
  });
});

describe('diffChain (resync decision)', () => {
  it('finds nothing to do when our chain and jump are intact among KUBE-* chains', () => {
    assert.deepEqual(diffChain(masq, parseSave(KUBE_NAT, 'nat')), []);
    assert.deepEqual(diffChain(fwd, parseSave(KUBE_FILTER, 'filter')), []);
  });

  it('notices a rule deleted by hand', () => {
    assert.deepEqual(diffChain(masq, parseSave(KUBE_NAT.replace(RULE3, ''), 'nat')), ['nat/FLANNEL-POSTRTG: 1 rule(s) missing, 0 unexpected']);
  });

  it('notices an altered rule', () => {
    const altered = KUBE_NAT.replace('! -d 224.0.0.0/4', '! -d 239.0.0.0/8');
    assert.deepEqual(diffChain(masq, parseSave(altered, 'nat')), ['nat/FLANNEL-POSTRTG: 1 rule(s) missing, 1 unexpected']);
  });

  it('notices rules out of order', () => {
    const swapped = KUBE_NAT.replace(RULE3, '').replace(JUMP, JUMP).replace('COMMIT', `${RULE3}COMMIT`);
    assert.deepEqual(diffChain(masq, parseSave(swapped, 'nat')), ['nat/FLANNEL-POSTRTG: rules out of order or duplicated']);
  });

  it('notices --random-fully where it is no longer wanted', () => {
    const plain = masqChain({ network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') }, false);
    assert.deepEqual(diffChain(plain, parseSave(KUBE_NAT, 'nat')), ['nat/FLANNEL-POSTRTG: 2 rule(s) missing, 2 unexpected']);
  });

  it('notices a missing jump and a missing chain', () => {
    assert.deepEqual(diffChain(masq, parseSave(KUBE_NAT.replace(JUMP, ''), 'nat')), ['nat/POSTROUTING: jump to FLANNEL-POSTRTG missing']);
    assert.deepEqual(diffChain(masq, parseSave(EMPTY_NAT, 'nat')), [
      'nat/FLANNEL-POSTRTG: chain missing',
      'nat/POSTROUTING: jump to FLANNEL-POSTRTG missing',
    ]);
  });

  it('notices duplicate and stray jumps', () => {
    assert.deepEqual(diffChain(masq, parseSave(KUBE_NAT.replace(JUMP, JUMP + JUMP), 'nat')), ['nat/POSTROUTING: 1 extra jump(s) to FLANNEL-POSTRTG']);
    const stray = KUBE_NAT.replace(JUMP, '-A POSTROUTING -j FLANNEL-POSTRTG\n-A POSTROUTING -j FLANNEL-POSTRTG\n');
    assert.deepEqual(diffChain(masq, parseSave(stray, 'nat')), [
      'nat/POSTROUTING: jump to FLANNEL-POSTRTG missing',
      'nat/POSTROUTING: 2 extra jump(s) to FLANNEL-POSTRTG',
    ]);
  });
});

describe('ensureBlock', () => {
  it('declares, flushes and refills our chain, and adds the jump when absent', () => {
    assert.equal(
      ensureBlock(masq, parseSave(EMPTY_NAT, 'nat')),
      `*nat
:FLANNEL-POSTRTG - [0:0]
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
COMMIT
`,
    );
  });

  it('keeps an existing jump in place and never names a KUBE-* chain', () => {
    const block = ensureBlock(masq, parseSave(KUBE_NAT.replace(RULE3, ''), 'nat'));
    assert.ok(!block.includes('-A POSTROUTING'));
    assert.ok(!block.includes('KUBE'));
    assert.equal(block.split('\n').filter((l) => l.startsWith('-A FLANNEL-POSTRTG')).length, 6);
  });

  it('deletes stray and duplicate jumps', () => {
    const stray = KUBE_NAT.replace(JUMP, `${JUMP}-A POSTROUTING -j FLANNEL-POSTRTG\n${JUMP}`);
    const lines = ensureBlock(masq, parseSave(stray, 'nat')).split('\n');
    assert.deepEqual(lines.filter((l) => l.includes('POSTROUTING ')), [
      '-D POSTROUTING -j FLANNEL-POSTRTG',
      '-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
    ]);
  });

  it('builds the filter block', () => {
    assert.equal(
      ensureBlock(fwd, parseSave(load('empty-filter.save'), 'filter')),
      `*filter
:FLANNEL-FWD - [0:0]
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
COMMIT
`,
    );
  });
});

describe('removalBlock', () => {
  it('deletes every jump into our chain, then the chain; KUBE-* stays', () => {
    const withStray = KUBE_NAT.replace(JUMP, `${JUMP}-A POSTROUTING -j FLANNEL-POSTRTG\n`);
    assert.equal(
      removalBlock(MASQ_CHAIN, parseSave(withStray, 'nat')),
      `*nat
-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-D POSTROUTING -j FLANNEL-POSTRTG
-F FLANNEL-POSTRTG
-X FLANNEL-POSTRTG
COMMIT
`,
    );
    assert.equal(
      removalBlock(FORWARD_CHAIN, parseSave(KUBE_FILTER, 'filter')),
      '*filter\n-D FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n-F FLANNEL-FWD\n-X FLANNEL-FWD\nCOMMIT\n',
    );
  });

  it('has nothing to do when the chain does not exist', () => {
    assert.equal(removalBlock(MASQ_CHAIN, parseSave(EMPTY_NAT, 'nat')), undefined);
    assert.equal(removalBlock(FORWARD_CHAIN, parseSave(KUBE_NAT, 'filter')), undefined);
  });
});
