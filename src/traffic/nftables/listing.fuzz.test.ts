import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { TrafficError } from '../../errors/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import { deepJsonText, fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../../test/harness/fuzz.ts';
import { parseListing } from './listing.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** One statement as nft prints it in JSON, and as script.ts writes it. */
interface Stmt {
  json: Json;
  text: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const family = fc.constantFrom(4 as const, 6 as const);
const cidr = family.chain((f) =>
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << (f === 4 ? 32n : 128n)) - 1n }), fc.integer({ min: 0, max: f === 4 ? 32 : 128 })).map(([v, p]) => Cidr.of(IPAddress.fromBigInt(f, v), p)),
);
const op = fc.constantFrom('==', '!=');
const addrMatch: fc.Arbitrary<Stmt> = fc
  .tuple(cidr, fc.constantFrom('saddr', 'daddr'), op, fc.boolean())
  .map(([c, field, o, lone]) => {
    const proto = c.family === 4 ? 'ip' : 'ip6';
    const right: Json = lone && c.prefix === c.ip.bits ? c.ip.toString() : { prefix: { addr: c.ip.toString(), len: c.prefix } };
    return { json: { match: { op: o, left: { payload: { protocol: proto, field } }, right } }, text: `${proto} ${field} ${o === '==' ? '' : `${o} `}${c.toString()}` };
  });
const markMatch: fc.Arbitrary<Stmt> = fc.tuple(fc.nat(), fc.nat(), op).map(([mask, value, o]) => ({
  json: { match: { op: o, left: { '&': [{ meta: { key: 'mark' } }, mask] }, right: value } },
  text: `meta mark & ${hex(mask)} ${o} ${hex(value)}`,
}));
const verdict: fc.Arbitrary<Stmt> = fc.oneof(
  fc.constantFrom('accept', 'drop', 'return', 'continue').map((v) => ({ json: { [v]: null }, text: v })),
  fc.tuple(fc.constantFrom('jump', 'goto'), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)).map(([v, target]) => ({ json: { [v]: { target } }, text: `${v} ${target}` })),
  fc.constant({ json: { masquerade: null }, text: 'masquerade' }),
  fc.constantFrom('fully-random', 'random', 'persistent').map((f) => ({ json: { masquerade: { flags: f } }, text: `masquerade ${f}` })),
  fc.subarray(['random', 'fully-random', 'persistent'], { minLength: 1 }).map((fs) => ({ json: { masquerade: { flags: fs } }, text: `masquerade ${fs.join(',')}` })),
);
const counter: fc.Arbitrary<Stmt> = fc.tuple(fc.nat(), fc.nat()).map(([packets, bytes]) => ({ json: { counter: { packets, bytes } }, text: 'counter' }));
const rule = fc.array(fc.oneof(addrMatch, markMatch, counter, verdict), { minLength: 1, maxLength: 6 });
const chainName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);

interface Model {
  chains: Array<{ name: string; type: string; hook: string; prio: number; policy: string; rules: Stmt[][] }>;
}
const model: fc.Arbitrary<Model> = fc
  .uniqueArray(chainName, { minLength: 1, maxLength: 4 })
  .chain((names) =>
    fc.record({
      chains: fc.tuple(
        ...names.map((name) =>
          fc.record({
            name: fc.constant(name),
            type: fc.constantFrom('nat', 'filter'),
            hook: fc.constantFrom('postrouting', 'forward', 'input'),
            prio: fc.integer({ min: -400, max: 400 }),
            policy: fc.constantFrom('accept', 'drop'),
            rules: fc.array(rule, { maxLength: 6 }),
          }),
        ),
      ),
    }),
  );

/** Chains first, then the rules shuffled among them (nft lists them grouped; we must not care). */
function listing(m: Model, order: number[]): string {
  const items: Json[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family: 'ip', name: 'flannel-ipv4', handle: 2 } }];
  let handle = 1;
  for (const c of m.chains) items.push({ chain: { family: 'ip', table: 'flannel-ipv4', name: c.name, handle: handle++, type: c.type, hook: c.hook, prio: c.prio, policy: c.policy } });
  const rules: Json[] = [];
  for (const c of m.chains) for (const r of c.rules) rules.push({ rule: { family: 'ip', table: 'flannel-ipv4', chain: c.name, handle: handle++, expr: r.map((s) => s.json) } });
  // Rules of one chain keep their order; chains interleave.
  const byChain = m.chains.map((c) => rules.filter((r) => (r as { rule: { chain: string } }).rule.chain === c.name));
  for (const k of order) {
    const q = byChain[k % byChain.length];
    const next = q?.shift();
    if (next) items.push(next);
  }
  for (const q of byChain) items.push(...q);
  return JSON.stringify({ nftables: items });
}

const recorded = ['flannel-ipv4.json', 'flannel-ipv6.json'].map((f) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), 'utf8'));
const listingText = fc.oneof(
  fc.tuple(model, fc.array(fc.nat(), { maxLength: 20 })).map(([m, order]) => listing(m, order)),
  fc.constantFrom(...recorded),
);
const TOKENS = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'null', '0', '-1', '1.5', '1e999', '40', '129', '"len"', '"prefix"', '"addr"', '"&"', '"match"', '"op"', '"flags"', '"expr"', '"chain"', '"rule"', '"10.0.0.1"', '"::1"', '[]', '{}', '');

describe('fuzz: nft -j listings', () => {
  it('decodes every rule into the text script.ts writes, chain by chain', () => {
    fc.assert(
      fc.property(model, fc.array(fc.nat(), { maxLength: 20 }), (m, order) => {
        const t = parseListing(listing(m, order));
        assert.deepEqual(
          t.chains.map((c) => [c.name, c.type, c.hook, c.prio, c.policy]),
          m.chains.map((c) => [c.name, c.type, c.hook, c.prio, c.policy]),
        );
        for (const [i, c] of m.chains.entries()) assert.deepEqual(t.chains[i]?.rules, c.rules.map((r) => r.map((s) => s.text).join(' ')));
      }),
      fuzzParams(),
    );
  });

  it('only TrafficError escapes from mutated, deep or long listings', () => {
    const deepRule = (deep: string): string => `{"nftables":[{"chain":{"name":"c"}},{"rule":{"chain":"c","expr":[${deep}]}}]}`;
    const text = fc.oneof(
      { weight: 8, arbitrary: mutated(listingText, TOKENS) },
      fc.json({ maxDepth: 4 }),
      deepJsonText().map(deepRule),
      deepJsonText().map((d) => deepRule(`{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":${d}}}`)),
      deepJsonText().map((d) => `{"nftables":${d}}`),
      repeated(fc.constantFrom('{"rule":{"chain":"c","expr":[{"accept":null}]}},', '{"chain":{"name":"c"}},', '1,')).map((s) => `{"nftables":[${s}null]}`),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = onlyFlannelErrors(() => parseListing(t), [TrafficError]);
        if (!r.ok) {
          assert.equal(r.error.code, 'E_TRAFFIC_PARSE');
          return;
        }
        for (const c of r.value.chains) {
          assert.equal(typeof c.name, 'string');
          for (const rule of c.rules) assert.equal(typeof rule, 'string');
        }
      }),
      fuzzParams(),
    );
  });
});
