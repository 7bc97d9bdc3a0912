import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../errors/index.ts';
import type { JsonValue } from '../../lease/index.ts';
import { deepJsonText, fuzzParams, neverThrows, onlyFlannelErrors, repeated } from '../../../test/harness/fuzz.ts';
import { decodeVxlanData, encodeVxlanData } from './backend-data.ts';
import { parseVxlanConfig, type VxlanConfig } from './config.ts';

const KEYS = ['VNI', 'Port', 'GBP', 'Learning', 'DirectRouting', 'MTU', 'MacPrefix'] as const;

/** A valid vxlan Backend section, keys in any case, and the config it means. */
const section = fc
  .record(
    {
      VNI: fc.integer({ min: 0, max: 0xffffff }),
      Port: fc.integer({ min: 0, max: 65535 }),
      GBP: fc.boolean(),
      Learning: fc.boolean(),
      DirectRouting: fc.boolean(),
      MTU: fc.integer({ min: 138, max: 65535 }),
      MacPrefix: fc.string({ maxLength: 6 }),
    },
    { requiredKeys: [] },
  )
  .chain((values) =>
    fc.tuple(...Object.keys(values).map((k) => fc.mixedCase(fc.constant(k)))).map((spelled) => {
      const raw: Record<string, unknown> = { Type: 'vxlan' };
      Object.values(values).forEach((v, i) => (raw[spelled[i] as string] = v));
      const want: VxlanConfig = {
        vni: values.VNI ?? 1,
        port: values.Port ?? 0,
        gbp: values.GBP ?? false,
        learning: values.Learning ?? false,
        directRouting: values.DirectRouting ?? false,
        ...(values.MTU !== undefined ? { mtu: values.MTU } : {}),
      };
      return { raw, want };
    }),
  );

/** Sections with wrong types, out-of-range numbers, twice-given keys, unknown keys, deep and long values. */
const hostile = fc
  .tuple(
    section,
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...KEYS).chain((k) => fc.mixedCase(fc.constant(k))), fc.string({ maxLength: 8 })),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom(-1, 0.5, Number.POSITIVE_INFINITY, -0, 16777216, 65536, 137, '1', 'true', null, Number.MAX_SAFE_INTEGER + 2),
          deepJsonText().map((t) => JSON.parse(t) as JsonValue),
          repeated(fc.constantFrom('x', 'é')),
        ),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([{ raw }, extra]) => {
    const out: Record<string, unknown> = { ...raw };
    for (const [k, v] of extra) out[k] = v;
    return out;
  });

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));

describe('fuzz: vxlan Backend section', () => {
  it('a valid section reads back as written, keys in any case', () => {
    fc.assert(
      fc.property(section, ({ raw, want }) => {
        const { config, warnings } = parseVxlanConfig(raw);
        assert.deepEqual(config, want);
        for (const w of warnings) assert.match(w, /^Backend\.\S+ /);
      }),
      fuzzParams(),
    );
  });

  it('only ConfigError escapes from hostile sections, and it names the key', () => {
    fc.assert(
      fc.property(hostile, (raw) => {
        const r = onlyFlannelErrors(() => parseVxlanConfig(raw), [ConfigError]);
        if (!r.ok) {
          assert.equal(r.error.code, 'E_BACKEND_CONFIG');
          assert.match(r.error.message, /^Backend\.(VNI|Port|GBP|Learning|DirectRouting|MTU|MacPrefix) /);
          assert.ok(r.error.message.length < 2000, `a message of ${r.error.message.length} characters`);
          return;
        }
        const c = r.value.config;
        assert.ok(Number.isInteger(c.vni) && c.vni >= 0 && c.vni <= 0xffffff);
        assert.ok(Number.isInteger(c.port) && c.port >= 0 && c.port <= 65535);
        assert.ok(c.mtu === undefined || (Number.isInteger(c.mtu) && c.mtu >= 138 && c.mtu <= 65535));
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: vxlan lease BackendData', () => {
  it('decode(encode(data)) is data', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), mac, (vni, vtepMac) => {
        assert.deepEqual(decodeVxlanData(encodeVxlanData({ vni, vtepMac })), { vni, vtepMac });
        assert.deepEqual(decodeVxlanData(JSON.parse(JSON.stringify({ VNI: vni, VtepMAC: vtepMac.toUpperCase() })) as JsonValue), { vni, vtepMac });
      }),
      fuzzParams(),
    );
  });

  it("a peer's BackendData is decoded or reported, never thrown, deep and long ones too", () => {
    const value = fc.oneof(
      fc.record({ VNI: fc.oneof(fc.integer(), fc.double(), fc.string()), VtepMAC: fc.oneof(mac, fc.string({ maxLength: 20 })) }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 3 }),
      deepJsonText().map((t) => JSON.parse(t) as JsonValue),
      repeated(fc.constantFrom('x', '"', 'é')).map((s) => ({ VNI: 1, VtepMAC: s })),
    );
    fc.assert(
      fc.property(value, (v) => {
        const r = neverThrows(() => decodeVxlanData(v as JsonValue));
        if ('problem' in r) assert.ok(r.problem.length > 0 && r.problem.length < 2000, `a problem of ${r.problem.length} characters`);
        else assert.ok(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(r.vtepMac) && Number.isInteger(r.vni));
      }),
      fuzzParams(),
    );
  });
});
