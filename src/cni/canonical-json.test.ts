import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from './canonical-json.ts';

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
});
