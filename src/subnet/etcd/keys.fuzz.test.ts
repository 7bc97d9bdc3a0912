import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cidr, IPAddress, subnetKey, type SubnetPair } from '../../ip/index.ts';
import { encodeLeaseAttrs } from '../../lease/index.ts';
import { deepJsonText, fuzzParams, mutated, neverThrows } from '../../../test/harness/fuzz.ts';
import { decodeEntry, KeyLayout, pairOfLease, toLease } from './keys.ts';
import type { KeyValue } from './registry.ts';

const prefix = fc.oneof(
  fc.constant('/coreos.com/network'),
  fc.stringMatching(/^\/[a-z0-9.\-_/]{0,20}[a-z0-9]$/),
);
const pair: fc.Arbitrary<SubnetPair> = fc
  .record({
    v4: fc.option(fc.tuple(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.integer({ min: 1, max: 32 })), { nil: undefined }),
    v6: fc.option(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 })), { nil: undefined }),
  })
  .filter((p) => p.v4 !== undefined || p.v6 !== undefined)
  .map((p) => ({
    ...(p.v4 ? { v4: Cidr.of(IPAddress.fromBigInt(4, p.v4[0]), p.v4[1]) } : {}),
    ...(p.v6 ? { v6: Cidr.of(IPAddress.fromBigInt(6, p.v6[0]), p.v6[1]) } : {}),
  }));
const value = fc.oneof(
  fc.tuple(fc.bigInt({ min: 1n, max: 0xffffffffn }), fc.constantFrom('vxlan', 'host-gw')).map(([ip, type]) =>
    encodeLeaseAttrs({ publicIP: IPAddress.fromBigInt(4, ip), backendType: type, backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }),
  ),
  fc.json({ maxDepth: 3 }),
);
const TOKENS = fc.constantFrom('/', '//', 'subnets', 'subnets/', '-', '&', '.', ':', '0', '24', '"', '{', '}', 'null', '');

function kv(key: string, v: string): KeyValue {
  return { key, value: v, modRevision: '7', version: '1', leaseId: '0' };
}

describe('fuzz: etcd keys and entries', () => {
  it('pairOf(leaseKey(pair)) is pair, under any prefix', () => {
    fc.assert(
      fc.property(prefix, pair, (p, sp) => {
        const layout = new KeyLayout(p);
        const key = layout.leaseKey(sp);
        assert.equal(key, `${p}/subnets/${subnetKey(sp)}`);
        const back = layout.pairOf(key);
        assert.equal(back?.v4?.toString(), sp.v4?.toString());
        assert.equal(back?.v6?.toString(), sp.v6?.toString());
        const lease = toLease(sp, { backendType: 'vxlan' }, kv(key, ''), undefined);
        assert.equal(subnetKey(pairOfLease(lease)), subnetKey(sp));
      }),
      fuzzParams(),
    );
  });

  it('decodeEntry never throws: every key and value is decoded or reported', () => {
    const key = fc.oneof(
      fc.tuple(prefix, pair).map(([p, sp]) => new KeyLayout(p).leaseKey(sp)),
      fc.tuple(prefix, fc.string({ maxLength: 30 })).map(([p, s]) => `${p}/subnets/${s}`),
      fc.tuple(prefix).map(([p]) => `${p}/config`),
    );
    const values = fc.oneof({ weight: 6, arbitrary: mutated(value, TOKENS) }, deepJsonText().map((d) => `{"PublicIP":"10.0.0.1","BackendData":${d}}`));
    fc.assert(
      fc.property(prefix, mutated(key, TOKENS), values, (p, k, v) => {
        const layout = new KeyLayout(p);
        const e = neverThrows(() => decodeEntry(layout, kv(k, v)));
        assert.equal(e.kv.key, k);
        if (e.pair === undefined) {
          assert.equal(e.attrs, undefined);
          assert.ok(e.problem?.includes(k), 'the problem names the key');
        } else if (e.attrs === undefined) {
          assert.ok(e.problem && e.problem.length > 0, 'an undecodable value is reported');
        } else {
          assert.equal(e.problem, undefined);
          assert.ok(k.startsWith(layout.subnetsPrefix));
        }
      }),
      fuzzParams(),
    );
  });
});
