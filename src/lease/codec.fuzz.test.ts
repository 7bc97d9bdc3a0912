import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LeaseError } from '../errors/index.ts';
import { IPAddress } from '../ip/index.ts';
import { deepJsonText, fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { decodeLeaseAttrs, encodeLeaseAttrs, type JsonValue, type LeaseAttrs } from './index.ts';

const v4 = fc.bigInt({ min: 1n, max: 0xffffffffn }).map((v) => IPAddress.fromBigInt(4, v));
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IPAddress.fromBigInt(6, v));
const backendType = fc.oneof(fc.constantFrom('vxlan', 'host-gw', 'alloc', 'wireguard', ''), fc.string({ maxLength: 12 }));
/** What backends publish, and arbitrary JSON. */
const backendData: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.record({ VNI: fc.integer({ min: 0, max: 0xffffff }), VtepMAC: fc.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/) }),
  fc.constant({}),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>,
);

const attrs: fc.Arbitrary<LeaseAttrs> = fc
  .record({
    publicIP: fc.option(v4, { nil: undefined }),
    publicIPv6: fc.option(v6, { nil: undefined }),
    backendType,
    backendData: fc.option(backendData, { nil: undefined }),
    backendV6Data: fc.option(backendData, { nil: undefined }),
  })
  .map((a) => {
    const out: { -readonly [K in keyof LeaseAttrs]: LeaseAttrs[K] } = { backendType: a.backendType };
    if (a.publicIP) out.publicIP = a.publicIP;
    if (a.publicIPv6) out.publicIPv6 = a.publicIPv6;
    if (a.backendData !== undefined) out.backendData = a.backendData;
    if (a.backendV6Data !== undefined) out.backendV6Data = a.backendV6Data;
    return out;
  });

/** JSON of `v`, or undefined for what the codec leaves out (absent, null, {}). */
function dataJson(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return undefined;
  return JSON.stringify(v);
}

const JSON_TOKENS = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'null', 'true', '7', '-0', '1e999', '"0.0.0.0"', '"::"', '"fd00::1"', '"10.0.0.1"', '"PublicIP"', '"PublicIPv6"', '"BackendData"', '"BackendType"', '"__proto__"', '\\u0000', '\\', ' ', '');

/** Upstream-shaped lease values, and the same with fields swapped for other JSON. */
const leaseText = fc.oneof(
  attrs.map(encodeLeaseAttrs),
  fc
    .record(
      {
        PublicIP: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('0.0.0.0', '', '10.0.0.01'), fc.jsonValue({ maxDepth: 1 })),
        PublicIPv6: fc.oneof(fc.ipV6(), fc.ipV4(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
        BackendType: fc.oneof(backendType, fc.jsonValue({ maxDepth: 1 })),
        BackendData: fc.jsonValue({ maxDepth: 3 }),
        BackendV6Data: fc.jsonValue({ maxDepth: 3 }),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
);

describe('fuzz: lease JSON', () => {
  it('decode(encode(attrs)) is attrs (empty backend data left out)', () => {
    fc.assert(
      fc.property(attrs, (a) => {
        const text = encodeLeaseAttrs(a);
        const back = decodeLeaseAttrs(text, 'k');
        assert.equal(back.publicIP?.toString(), a.publicIP?.toString());
        assert.equal(back.publicIPv6?.toString(), a.publicIPv6?.toString());
        assert.equal(back.backendType, a.backendType);
        assert.equal(dataJson(back.backendData), dataJson(a.backendData));
        assert.equal(dataJson(back.backendV6Data), dataJson(a.backendV6Data));
        assert.equal(encodeLeaseAttrs(back), text);
      }),
      fuzzParams(),
    );
  });

  it('only LeaseError escapes; what decodes has addresses of the right family and re-encodes stably', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(leaseText, JSON_TOKENS), fc.string({ maxLength: 40 })), (text) => {
        const r = onlyFlannelErrors(() => decodeLeaseAttrs(text, '/coreos.com/network/subnets/10.0.0.0-24'), [LeaseError]);
        if (!r.ok) {
          assert.match(r.error.message, /^\/coreos\.com\/network\/subnets\/10\.0\.0\.0-24: /, 'the message names the key');
          return;
        }
        const a = r.value;
        assert.equal(typeof a.backendType, 'string');
        assert.ok(!a.publicIP || a.publicIP.family === 4);
        assert.ok(!a.publicIPv6 || a.publicIPv6.family === 6);
        const again = decodeLeaseAttrs(encodeLeaseAttrs(a), 'k');
        assert.equal(encodeLeaseAttrs(again), encodeLeaseAttrs(a));
      }),
      fuzzParams(),
    );
  });

  it('copes with deep and long values', () => {
    const big = fc.oneof(
      deepJsonText().map((deep) => `{"PublicIP":"10.0.0.1","BackendType":"vxlan","BackendData":${deep}}`),
      deepJsonText().map((deep) => `{"PublicIP":${deep}}`),
      deepJsonText(),
      repeated(fc.constantFrom('{"PublicIP":', '[', '"a",', ' ')),
      repeated(fc.constantFrom('x', 'é')).map((s) => `{"PublicIP":"10.0.0.1","BackendType":"${s}"}`),
    );
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutated(leaseText, JSON_TOKENS) }, big), (text) => {
        onlyFlannelErrors(() => decodeLeaseAttrs(text, 'k'), [LeaseError]);
      }),
      fuzzParams(),
    );
  });
});
