import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from './canonical-json.ts';

describe('canonical JSON (Go encoding/json of a map)', () => {
  it('sorts keys at every level, keeps array order, is compact', () => {
    assert.equal(canonicalJson({ b: 1, a: { z: [3, { y: 1, x: 2 }], c: null } }), '{"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1}');
  });
  it('escapes <, > and & like Go', () => {
    assert.equal(canonicalJson({ s: '<a&b>' }), '{"s":"\\u003ca\\u0026b\\u003e"}');
  });
});
