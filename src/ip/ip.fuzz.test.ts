import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { IPParseError } from '../errors/index.ts';
import { fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { Cidr, IPAddress, parseSubnetKey, subnetKey, type Family } from './index.ts';
import { shortDecimal } from './address.ts';

// ---- arbitraries ----------------------------------------------------------------------------

const v4Value = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.constantFrom(0n, 1n, 0x7f000001n, 0xa0000000n, 0xc0a83200n, 0xfffffffen, 0xffffffffn),
);
/** Groups biased to zero, so that every compression case of RFC 5952 comes up. */
const v6Group = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.constantFrom(1, 0xffff, 0xfe80, 0xfd00), fc.integer({ min: 0, max: 0xffff }));
const v6Value = fc.array(v6Group, { minLength: 8, maxLength: 8 }).map((gs) => gs.reduce((v, g) => (v << 16n) | BigInt(g), 0n));
const address = fc.oneof(
  v4Value.map((v) => IPAddress.fromBigInt(4, v)),
  v6Value.map((v) => IPAddress.fromBigInt(6, v)),
);
const cidr = address.chain((ip) => fc.integer({ min: 0, max: ip.bits }).map((p) => Cidr.of(ip, p)));

/** Ways people and tools write addresses: canonical, upper case, zero-padded, IPv4-embedded. */
const addressText = fc.oneof(
  address.map((a) => a.toString()),
  address.map((a) => a.toString().toUpperCase()),
  v6Value.map((v) => {
    const groups = [];
    for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16).padStart(4, '0'));
    return groups.join(':');
  }),
  fc.tuple(fc.array(v6Group, { minLength: 6, maxLength: 6 }), v4Value).map(([hi, lo]) => `${hi.map((g) => g.toString(16)).join(':')}:${IPAddress.fromBigInt(4, lo).toString()}`),
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
);
const IP_TOKENS = fc.constantFrom('.', ':', '::', ':::', '0', '00', '000', '0000', '00000', 'f', 'F', 'g', '255', '256', '999', '1.2.3.4', '%eth0', '/', ' ', '-', '\n', '');

const cidrText = fc.oneof(
  cidr.map((c) => c.toString()),
  fc.tuple(address, fc.integer({ min: 0, max: 140 })).map(([a, p]) => `${a.toString()}/${p}`),
  fc.tuple(addressText, fc.oneof(fc.integer({ min: 0, max: 129 }).map(String), fc.constantFrom('', '01', '-1', '1e1', '0x10', ' 24', '24 ', '4294967296'))).map(([a, p]) => `${a}/${p}`),
);

const pair = fc
  .record({
    v4: fc.option(v4Value.chain((v) => fc.integer({ min: 1, max: 32 }).map((p) => Cidr.of(IPAddress.fromBigInt(4, v), p))), { nil: undefined }),
    v6: fc.option(v6Value.chain((v) => fc.integer({ min: 0, max: 128 }).map((p) => Cidr.of(IPAddress.fromBigInt(6, v), p))), { nil: undefined }),
  })
  .filter((p) => p.v4 !== undefined || p.v6 !== undefined)
  .map((p) => ({ ...(p.v4 ? { v4: p.v4 } : {}), ...(p.v6 ? { v6: p.v6 } : {}) }));

function familyOf(text: string): Family | 0 {
  return isIP(text) as Family | 0;
}

// ---- properties -----------------------------------------------------------------------------

describe('fuzz: IP addresses', () => {
  it('parse(toString(ip)) is ip, for every IPv4 and IPv6 value', () => {
    fc.assert(
      fc.property(address, (ip) => {
        const back = IPAddress.parse(ip.toString());
        assert.ok(back.equals(ip), `${ip.toString()} came back as ${back.toString()}`);
        assert.ok(IPAddress.fromBytes(ip.toBytes()).equals(ip));
        const bytes = new Uint8Array(ip.bits / 8 + 3);
        ip.writeBytes(bytes, 3);
        assert.deepEqual(bytes.subarray(3), new Uint8Array(ip.toBytes()));
      }),
      fuzzParams(),
    );
  });

  it('prints IPv6 the way the WHATWG URL parser does (RFC 5952)', () => {
    fc.assert(
      fc.property(v6Value, (v) => {
        const ip = IPAddress.fromBigInt(6, v);
        assert.equal(`[${ip.toString()}]`, new URL(`http://[${ip.toString()}]/`).hostname);
      }),
      fuzzParams(),
    );
  });

  it('accepts exactly what node:net accepts (no zones), and only IPParseError escapes', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(addressText, IP_TOKENS), fc.string({ maxLength: 50 })), (text) => {
        const r = onlyFlannelErrors(() => IPAddress.parse(text), [IPParseError]);
        const want = text.includes('%') ? 0 : familyOf(text);
        assert.equal(r.ok ? r.value.family : 0, want, `"${text}": node:net says ${want === 0 ? 'invalid' : `IPv${want}`}`);
        if (r.ok) {
          const canonical = r.value.toString();
          assert.ok(IPAddress.parse(canonical).equals(r.value));
          if (r.value.family === 6) assert.equal(`[${canonical}]`, new URL(`http://[${text}]/`).hostname);
        }
      }),
      fuzzParams(),
    );
  });

  it('copes with long inputs', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutated(addressText, IP_TOKENS) }, repeated(fc.constantFrom('1', '1.', ':', '::', 'ffff:', '0.', '1.2.3.4/'))), (text) => {
        onlyFlannelErrors(() => IPAddress.parse(text), [IPParseError]);
        onlyFlannelErrors(() => Cidr.parse(`${text}/24`), [IPParseError]);
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: CIDRs', () => {
  it('parse(toString(c)) is c, strict or not', () => {
    fc.assert(
      fc.property(cidr, (c) => {
        assert.ok(Cidr.parse(c.toString()).equals(c));
        assert.ok(Cidr.parse(c.toString(), { strict: true }).equals(c));
        assert.ok(c.contains(c.ip) && c.contains(c.last));
        assert.equal(c.last.value - c.ip.value + 1n, c.size);
      }),
      fuzzParams(),
    );
  });

  it('only IPParseError escapes; what parses is normalised and in range', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(cidrText, IP_TOKENS), fc.string({ maxLength: 60 })), fc.boolean(), (text, strict) => {
        const r = onlyFlannelErrors(() => Cidr.parse(text, { strict }), [IPParseError]);
        if (!r.ok) return;
        const c = r.value;
        assert.ok(c.prefix >= 0 && c.prefix <= c.ip.bits && Number.isInteger(c.prefix), `prefix ${c.prefix}`);
        assert.equal(c.ip.value & ~c.mask & ((1n << BigInt(c.ip.bits)) - 1n), 0n, 'host bits are zero');
        assert.ok(Cidr.parse(c.toString(), { strict: true }).equals(c));
        if (strict) assert.ok(IPAddress.parse(text.slice(0, text.indexOf('/'))).equals(c.ip), 'strict keeps the address as written');
        assert.equal(Cidr.tryParse(text)?.toString(), c.toString());
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: subnet keys', () => {
  it('parseSubnetKey(subnetKey(pair)) is pair', () => {
    fc.assert(
      fc.property(pair, (p) => {
        const key = subnetKey(p);
        const back = parseSubnetKey(key);
        assert.equal(back.v4?.toString(), p.v4?.toString(), key);
        assert.equal(back.v6?.toString(), p.v6?.toString(), key);
        assert.equal(subnetKey(back), key);
      }),
      fuzzParams(),
    );
  });

  it('only IPParseError escapes from mutated keys; what parses re-encodes to the same pair', () => {
    const keyText = fc.oneof(pair.map(subnetKey), pair.map((p) => subnetKey(p).toUpperCase()));
    fc.assert(
      fc.property(fc.oneof(mutated(keyText, fc.oneof(IP_TOKENS, fc.constantFrom('&', '-', '&&', '--', '0.0.0.0-0', '-24', '/24'))), fc.string({ maxLength: 60 })), (key) => {
        const r = onlyFlannelErrors(() => parseSubnetKey(key), [IPParseError]);
        if (!r.ok) return;
        const p = r.value;
        assert.ok(p.v4 || p.v6, `"${key}" parsed to no subnet`);
        assert.ok(!p.v4 || p.v4.family === 4);
        assert.ok(!p.v6 || p.v6.family === 6);
        const again = parseSubnetKey(subnetKey(p));
        assert.equal(again.v4?.toString(), p.v4?.toString());
        assert.equal(again.v6?.toString(), p.v6?.toString());
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: shortDecimal', () => {
  it('takes exactly what /^(0|[1-9][0-9]{0,2})$/ took, with its value', () => {
    const text = fc.oneof(fc.string({ maxLength: 5 }), fc.stringMatching(/^[0-9]{0,4}$/), fc.constantFrom('0', '00', '01', '255', '256', '999', '1000', '٣', '1e2', ' 1', '+1', '-0'));
    fc.assert(
      fc.property(text, (t) => {
        assert.equal(shortDecimal(t), /^(0|[1-9][0-9]{0,2})$/.test(t) ? Number(t) : undefined);
      }),
      fuzzParams(),
    );
  });
});
