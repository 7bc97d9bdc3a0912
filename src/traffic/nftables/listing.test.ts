import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cidr } from '../../ip/index.ts';
import { diffTable } from './compare.ts';
import { parseListing } from './listing.ts';
import { NFT_TABLES, wantedChains } from './script.ts';

const load = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const V4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const V6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };
const want4 = wantedChains(NFT_TABLES.v4, { masq: { ...V4, fullyRandom: true }, forward: V4.network }, true);
const want6 = wantedChains(NFT_TABLES.v6, { masq: { ...V6, fullyRandom: true }, forward: V6.network }, true);

/** A recorded listing with one rule's expressions replaced. */
function edit(text: string, mutate: (doc: { nftables: Array<Record<string, unknown>> }) => void): string {
  const doc = JSON.parse(text) as { nftables: Array<Record<string, unknown>> };
  mutate(doc);
  return JSON.stringify(doc);
}

describe('parseListing (nft -j list table, recorded from nft 1.0.6)', () => {
  it('decodes rules into the text script.ts writes', () => {
    const t = parseListing(load('flannel-ipv4.json'));
    assert.deepEqual(
      t.chains.map((c) => [c.name, c.type, c.hook, c.prio, c.policy]),
      [
        ['postrtg', 'nat', 'postrouting', 100, 'accept'],
        ['forward', 'filter', 'forward', 0, 'accept'],
      ],
    );
    assert.deepEqual(t.chains[0]?.rules, want4[0]?.rules);
    assert.deepEqual(t.chains[1]?.rules, want4[1]?.rules);
  });

  it('matches the wanted IPv4 and IPv6 tables exactly', () => {
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, parseListing(load('flannel-ipv4.json'))), []);
    assert.deepEqual(diffTable('ip6 flannel-ipv6', want6, parseListing(load('flannel-ipv6.json'))), []);
  });

  it('prints lone addresses as /32 and unknown expressions as markers', () => {
    const text = JSON.stringify({
      nftables: [
        { chain: { name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
        { rule: { chain: 'c', expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '10.0.0.1' } }, { counter: { packets: 0, bytes: 0 } }, { accept: null }] } },
        { rule: { chain: 'c', expr: [{ log: null }] } },
      ],
    });
    assert.deepEqual(parseListing(text).chains[0]?.rules, ['ip saddr 10.0.0.1/32 counter accept', '?{"log":null}']);
  });

  it('rejects output that is not nft JSON', () => {
    assert.throws(() => parseListing('table ip x {}'), { code: 'E_TRAFFIC_PARSE' });
    assert.throws(() => parseListing('{"x":1}'), { code: 'E_TRAFFIC_PARSE' });
  });
});

describe('diffTable (resync decision)', () => {
  it('reports a missing table', () => {
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, undefined), ['table ip flannel-ipv4: missing']);
    assert.deepEqual(diffTable('ip flannel-ipv4', [], undefined), []);
  });

  it('reports a table that should be gone', () => {
    assert.deepEqual(diffTable('ip flannel-ipv4', [], parseListing(load('flannel-ipv4.json'))), ['table ip flannel-ipv4: removed']);
  });

  it('reports a deleted rule', () => {
    const listed = parseListing(
      edit(load('flannel-ipv4.json'), (d) => {
        d.nftables.splice(6, 1);
      }),
    );
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, listed), ['ip flannel-ipv4/postrtg: 1 rule(s) missing, 0 unexpected']);
  });

  it('reports a rule whose masquerade lost fully-random', () => {
    const text = load('flannel-ipv4.json').replace('{"masquerade": {"flags": "fully-random"}}', '{"masquerade": null}');
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, parseListing(text)), ['ip flannel-ipv4/postrtg: 1 rule(s) missing, 1 unexpected']);
  });

  it('reports an extra chain, a missing chain and an altered hook', () => {
    const listed = parseListing(load('flannel-ipv4.json'));
    const onlyForward = want4.filter((c) => c.name === 'forward');
    assert.deepEqual(diffTable('ip flannel-ipv4', onlyForward, listed), ['ip flannel-ipv4/postrtg: unexpected chain']);
    const noForward = { chains: listed.chains.filter((c) => c.name !== 'forward') };
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, noForward), ['ip flannel-ipv4/forward: chain missing']);
    const altered = { chains: listed.chains.map((c) => (c.name === 'forward' ? { ...c, prio: 10 } : c)) };
    assert.deepEqual(diffTable('ip flannel-ipv4', want4, altered), ['ip flannel-ipv4/forward: chain is "type filter hook forward priority 10 policy accept"']);
  });
});
