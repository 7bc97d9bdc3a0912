import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParams } from '../../test/harness/fuzz.ts';
import { canonicalJson, compareCodePoints } from './canonical-json.ts';

/** Go's encoding written the slow way: every key list sorted by code point, then escaped. */
function reference(v: unknown): string {
  const write = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(write).join(',')}]`;
    if (typeof x !== 'object' || x === null) return JSON.stringify(x);
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort(compareCodePoints)
      .map((k) => `${JSON.stringify(k)}:${write(o[k])}`)
      .join(',')}}`;
  };
  return write(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Keys that mix ASCII with the units where UTF-16 order and code point order differ. */
const key = fc.string({ unit: fc.constantFrom('a', 'b', '0', '1', '', 'é', '\u00ff', '\ud7ff', '\ue000', '\uffff', '\u{1f600}', '\u{10000}', '\ud800'), maxLength: 4 });

describe('canonical JSON (Go encoding/json of a map)', () => {
  it('sorts keys at every level, keeps array order, is compact', () => {
    assert.equal(canonicalJson({ b: 1, a: { z: [3, { y: 1, x: 2 }], c: null } }), '{"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1}');
  });
  it('sorts integer-like keys as strings, by code point, as Go sorts a map\'s keys', () => {
    assert.equal(canonicalJson(JSON.parse('{"0":"","":0,"10":1,"9":2,"a":3}')), '{"":0,"0":"","10":1,"9":2,"a":3}');
    assert.equal(canonicalJson({ '\u{1f600}': 1, '\ue000': 2, z: 3 }), '{"z":3,"\ue000":2,"\u{1f600}":1}');
  });
  it('keeps a "__proto__" key of parsed JSON', () => {
    assert.equal(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}')), '{"__proto__":{"x":1},"b":1}');
  });
  it('drops undefined members and writes undefined array items as null, like JSON.stringify', () => {
    assert.equal(canonicalJson({ a: undefined, b: [undefined, 1] }), '{"b":[null,1]}');
  });
  it('escapes <, > and & like Go', () => {
    assert.equal(canonicalJson({ s: '<a&b>' }), '{"s":"\\u003ca\\u0026b\\u003e"}');
  });
  it('orders keys by code point whether or not they hold units from U+D800 up', () => {
    fc.assert(
      fc.property(fc.dictionary(key, fc.oneof(fc.integer(), fc.dictionary(key, fc.integer(), { maxKeys: 4 })), { maxKeys: 8 }), (o) => {
        assert.equal(canonicalJson(o), reference(o));
        // Object.keys order never leaks through: the same members inserted the other way round.
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        assert.equal(canonicalJson(reversed), canonicalJson(o));
      }),
      fuzzParams(),
    );
  });
  it('ASCII keys alone come out in code unit order, which is code point order', () => {
    assert.equal(canonicalJson({ b: 1, B: 2, a: 3, '': 4, _: 5, '~': 6 }), '{"":4,"B":2,"_":5,"a":3,"b":1,"~":6}');
  });
  it('orders few keys (by insertion) and many keys (by the engine) alike, below and above the cut-over', () => {
    const ascii = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '0', '_', '~', 'é', '\u00ff', '\ud7ff'), maxLength: 3 });
    fc.assert(
      fc.property(fc.dictionary(ascii, fc.integer(), { minKeys: 20, maxKeys: 60 }), (o) => {
        assert.equal(canonicalJson(o), reference(o));
      }),
      fuzzParams(),
    );
  });
});

