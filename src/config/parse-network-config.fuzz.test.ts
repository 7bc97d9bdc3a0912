import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../errors/index.ts';
import { Cidr, IPAddress, type Family } from '../ip/index.ts';
import { deepJsonText, fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import type { SubnetPool } from './network-config.ts';

/** Backend types upstream knows (the parser takes any string; the backend registry says which run). */
const BACKEND_TYPES = ['vxlan', 'host-gw', 'wireguard', 'udp', 'ipip', 'extension', 'alloc'];
import { parseNetworkConfig } from './parse-network-config.ts';

// ---- a model of a valid net-conf.json ------------------------------------------------------

/** Ranges no pod network may overlap (the validation's own list). */
const UNUSABLE = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '255.255.255.255/32', '::/128', '::1/128', 'fe80::/10', 'ff00::/8'].map((c) => Cidr.parse(c));

interface PoolModel {
  network: Cidr;
  /** As written: undefined (absent), 0 (default) or a length. */
  subnetLen: number | undefined;
  effectiveLen: number;
  min: bigint | undefined;
  max: bigint | undefined;
  minText: 'address' | 'cidr';
  maxText: 'address' | 'cidr';
}

function poolModel(family: Family): fc.Arbitrary<PoolModel> {
  const bits = family === 4 ? 32 : 128;
  const maxLen = bits - 2;
  const minPrefix = family === 4 ? 4 : 8;
  return fc
    .tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.integer({ min: minPrefix, max: maxLen - 2 }))
    .map(([v, p]) => Cidr.of(IPAddress.fromBigInt(family, v), p))
    .filter((n) => n.prefix > 0 && !UNUSABLE.some((u) => u.family === family && u.overlaps(n)))
    .chain((network) => {
      const defaultLen = network.prefix <= (family === 4 ? 22 : 62) ? (family === 4 ? 24 : 64) : network.prefix + 2;
      return fc
        .oneof(fc.constant(undefined), fc.constant(0), fc.integer({ min: network.prefix + 2, max: maxLen }))
        .chain((subnetLen) => {
          const effectiveLen = subnetLen === undefined || subnetLen === 0 ? defaultLen : subnetLen;
          const count = 1n << BigInt(effectiveLen - network.prefix);
          return fc
            .record({
              a: fc.option(fc.bigInt({ min: 0n, max: count - 1n }), { nil: undefined }),
              b: fc.option(fc.bigInt({ min: 0n, max: count - 1n }), { nil: undefined }),
              minText: fc.constantFrom<'address' | 'cidr'>('address', 'cidr'),
              maxText: fc.constantFrom<'address' | 'cidr'>('address', 'cidr'),
            })
            .map(({ a, b, minText, maxText }) => {
              const lo = a ?? 1n;
              const hi = b ?? count - 1n;
              // Keep min <= max: swap the given ones when needed (defaults are 1 and count - 1).
              const [min, max] = lo <= hi ? [a, b] : a !== undefined && b !== undefined ? [b, a] : [undefined, undefined];
              return { network, subnetLen, effectiveLen, min, max, minText, maxText };
            });
        });
    });
}

interface Model {
  v4: PoolModel | undefined;
  v6: PoolModel | undefined;
  enableIPv4: boolean | undefined;
  enableIPv6: boolean | undefined;
  enableNFTables: boolean | undefined;
  backendType: string | undefined;
  /** Per key, how it is spelled (Go matches keys case-insensitively). */
  spell: (key: string) => string;
}

const model: fc.Arbitrary<Model> = fc
  .record({
    v4: poolModel(4),
    v6: poolModel(6),
    families: fc.constantFrom('v4', 'v6', 'dual'),
    explicit: fc.boolean(),
    enableNFTables: fc.option(fc.boolean(), { nil: undefined }),
    backendType: fc.option(fc.constantFrom(...BACKEND_TYPES).chain((t) => fc.mixedCase(fc.constant(t))), { nil: undefined }),
    caseSeed: fc.nat(),
  })
  .map((m) => {
    const v4 = m.families !== 'v6';
    const v6 = m.families !== 'v4';
    return {
      v4: v4 ? m.v4 : undefined,
      v6: v6 ? m.v6 : undefined,
      enableIPv4: v4 ? (m.explicit ? true : undefined) : false,
      enableIPv6: v6 ? true : m.explicit ? false : undefined,
      enableNFTables: m.enableNFTables,
      backendType: m.backendType,
      spell: (key: string) => (m.caseSeed % 4 === 0 ? key.toLowerCase() : m.caseSeed % 4 === 1 ? key.toUpperCase() : key),
    };
  });

function subnetAt(p: PoolModel, i: bigint): Cidr {
  return p.network.subnetAt(p.effectiveLen, i);
}

function toJson(m: Model): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    if (v !== undefined) o[m.spell(k)] = v;
  };
  const pool = (p: PoolModel | undefined, prefix: '' | 'IPv6'): void => {
    if (!p) return;
    put(prefix === '' ? 'Network' : 'IPv6Network', p.network.toString());
    put(`${prefix}SubnetLen`, p.subnetLen);
    const text = (i: bigint | undefined, how: 'address' | 'cidr'): string | undefined => (i === undefined ? undefined : how === 'address' ? subnetAt(p, i).ip.toString() : subnetAt(p, i).toString());
    put(`${prefix}SubnetMin`, text(p.min, p.minText));
    put(`${prefix}SubnetMax`, text(p.max, p.maxText));
  };
  pool(m.v4, '');
  pool(m.v6, 'IPv6');
  put('EnableIPv4', m.enableIPv4);
  put('EnableIPv6', m.enableIPv6);
  put('EnableNFTables', m.enableNFTables);
  if (m.backendType !== undefined) o[m.spell('Backend')] = { Type: m.backendType, VNI: 1 };
  return o;
}

function checkPool(got: SubnetPool | undefined, want: PoolModel): void {
  assert.ok(got);
  assert.equal(got.network.toString(), want.network.toString());
  assert.equal(got.subnetLen, want.effectiveLen);
  const count = 1n << BigInt(want.effectiveLen - want.network.prefix);
  assert.equal(got.subnetMin.toString(), subnetAt(want, want.min ?? 1n).toString());
  assert.equal(got.subnetMax.toString(), subnetAt(want, want.max ?? count - 1n).toString());
}

/** What every accepted configuration satisfies, whatever it was written as. */
function checkInvariants(p: SubnetPool | undefined, family: Family): void {
  if (!p) return;
  const bits = family === 4 ? 32 : 128;
  assert.equal(p.network.family, family);
  assert.ok(p.network.prefix > 0, 'not the whole address space');
  assert.ok(p.subnetLen >= p.network.prefix + 2 && p.subnetLen <= bits - 2, `SubnetLen ${p.subnetLen} for ${p.network.toString()}`);
  for (const s of [p.subnetMin, p.subnetMax]) {
    assert.equal(s.prefix, p.subnetLen);
    assert.ok(p.network.containsCidr(s), `${s.toString()} inside ${p.network.toString()}`);
  }
  assert.ok(p.subnetMin.compare(p.subnetMax) <= 0, 'SubnetMin <= SubnetMax');
  assert.ok(!UNUSABLE.some((u) => u.family === family && u.overlaps(p.network)), `${p.network.toString()} is usable`);
}

const TOKENS = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'null', 'true', 'false', '0', '-1', '1.5', '1e999', '33', '129', '"/"', '"10.244.0.0/16"', '"0.0.0.0/0"', '"::/0"', '"fd00::/56"', '"Network"', '"SubnetLen"', '"Backend"', '"Type"', '"network"', '\\u0000', ' ', '');
const netconfText = fc.oneof(model.map((m) => JSON.stringify(toJson(m))), fc.json({ maxDepth: 2 }));

// ---- properties -----------------------------------------------------------------------------

describe('fuzz: net-conf.json', () => {
  it('a valid configuration reads back as written, keys in any case', () => {
    fc.assert(
      fc.property(model, (m) => {
        const c = parseNetworkConfig(JSON.stringify(toJson(m)), { source: 'net-conf.json' });
        assert.equal(c.enableIPv4, m.v4 !== undefined);
        assert.equal(c.enableIPv6, m.v6 !== undefined);
        assert.equal(c.enableNFTables, m.enableNFTables ?? false);
        if (m.v4) checkPool(c.v4, m.v4);
        else assert.equal(c.v4, undefined);
        if (m.v6) checkPool(c.v6, m.v6);
        else assert.equal(c.v6, undefined);
        assert.equal(c.backend.type, (m.backendType ?? 'vxlan').toLowerCase());
      }),
      fuzzParams(),
    );
  });

  it('only ConfigError escapes from mutated configurations; what is accepted can work', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 6, arbitrary: mutated(netconfText, TOKENS) }, fc.string({ maxLength: 30 })), (text) => {
        const r = onlyFlannelErrors(() => parseNetworkConfig(text, { source: '/etc/kube-flannel/net-conf.json' }), [ConfigError]);
        if (!r.ok) {
          assert.match(r.error.message, /^\/etc\/kube-flannel\/net-conf\.json: /, 'the message names the file');
          assert.ok(r.error.hint);
          return;
        }
        const c = r.value;
        assert.ok(c.enableIPv4 || c.enableIPv6);
        assert.equal(c.v4 !== undefined, c.enableIPv4);
        assert.equal(c.v6 !== undefined, c.enableIPv6);
        checkInvariants(c.v4, 4);
        checkInvariants(c.v6, 6);
        assert.ok(BACKEND_TYPES.includes(c.backend.type), c.backend.type);
      }),
      fuzzParams(),
    );
  });

  it(
    'only ConfigError escapes from deeply nested and long configurations',
    () => {
      const big = fc.oneof(
        deepJsonText().map((d) => `{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":${d}}}`),
        deepJsonText().map((d) => `{"Network":"10.244.0.0/16","Backend":${d}}`),
        fc.constantFrom('Network', 'SubnetLen', 'EnableIPv4', 'SubnetMin', 'Backend').chain((k) => deepJsonText().map((d) => `{"${k}":${d}}`)),
        deepJsonText(),
        repeated(fc.constantFrom('"x":1,', '"Network":"10.244.0.0/16",', ' ')).map((s) => `{${s}"Backend":{"Type":"vxlan"}}`),
      );
      fc.assert(
        fc.property(fc.oneof({ weight: 3, arbitrary: mutated(netconfText, TOKENS) }, big), (text) => {
          onlyFlannelErrors(() => parseNetworkConfig(text), [ConfigError]);
        }),
        fuzzParams(),
      );
    },
  );
});
