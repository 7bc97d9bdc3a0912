/**
 * Property-based tests of the plugin's stdin decoding (net-conf.ts), the cniVersion handling
 * (versions.ts) and what ADD makes of a configuration (delegate.ts, canonical-json.ts): only the
 * plugin's CniError escapes (never TypeError/RangeError), in a bounded time, with the CNI code
 * the spec gives; canonical JSON decodes back to what it encoded.
 * Runs per property: FUZZ_RUNS (200 by default, `npm run fuzz` sets more).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cidr } from '../ip/index.ts';
import type { SubnetEnv } from '../subnetenv/index.ts';
import { COMMON_TOKENS, deepJsonText, fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { canonicalJson, compareCodePoints } from './canonical-json.ts';
import { CniError } from './cni-error.ts';
import { buildDelegate, delegateType } from './delegate.ts';
import { JSON_DEPTH_LIMIT } from './limits.ts';
import { decodeJson, nestsDeeperThan, parseNetConf } from './net-conf.ts';
import { compareVersions, requireCommandVersion, requireSupported, SUPPORTED_VERSIONS } from './versions.ts';

// ---- arbitraries ----------------------------------------------------------------------------

const NAME = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/);
const version = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SUPPORTED_VERSIONS) },
  fc.constantFrom('', '0.1.0', '0.2.0', '1.0', '1.0.0-rc1', ' 1.0.0', '2.0.0', '01.0.0', '1.1.0\n', '99999999999999999999.0.0'),
  fc.string({ maxLength: 12 }),
);
const path = fc.oneof(fc.constantFrom('/run/flannel/subnet.env', '/var/lib/cni/flannel', '/x', 'rel/dir'), fc.string({ minLength: 1, maxLength: 30 }));
const jsonish = fc.jsonValue({ maxDepth: 4 });
const routes = fc.array(fc.record({ dst: fc.oneof(fc.constantFrom('10.244.0.0/16', '0.0.0.0/0', 'fd00::/8', 'bogus', ''), fc.string({ maxLength: 20 })), gw: fc.option(fc.ipV4(), { nil: undefined }) }, { requiredKeys: ['dst'] }), { maxLength: 3 });

/** Configurations as runtimes send them (most valid, each key sometimes missing or odd). */
const confObject = fc.record(
  {
    cniVersion: version,
    name: fc.oneof({ weight: 5, arbitrary: NAME }, fc.string({ maxLength: 10 }), jsonish),
    type: fc.constantFrom('flannel', 'bridge'),
    subnetFile: fc.oneof({ weight: 5, arbitrary: path }, jsonish),
    dataDir: fc.oneof({ weight: 5, arbitrary: path }, jsonish),
    delegate: fc.oneof(
      { weight: 3, arbitrary: fc.record({ type: fc.constantFrom('bridge', 'ipvlan', 'flannel', '../sh', ''), hairpinMode: fc.boolean(), isDefaultGateway: fc.boolean(), mtu: fc.integer() }, { requiredKeys: [] }) },
      fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'name', 'ipam', 'type')), jsonish, { maxKeys: 4 }),
      jsonish,
    ),
    ipam: fc.oneof({ weight: 3, arbitrary: fc.record({ type: fc.constantFrom('host-local', 'static'), routes, dataDir: path }, { requiredKeys: [] }) }, jsonish),
    runtimeConfig: fc.oneof(fc.record({ portMappings: fc.array(fc.record({ hostPort: fc.integer(), containerPort: fc.integer(), protocol: fc.constantFrom('tcp', 'udp') }), { maxLength: 3 }) }), jsonish),
    'cni.dev/valid-attachments': fc.oneof({ weight: 3, arbitrary: fc.array(fc.record({ containerID: fc.oneof(NAME, jsonish), ifname: fc.oneof(fc.constant('eth0'), jsonish) }, { requiredKeys: ['containerID'] }), { maxLength: 4 }) }, jsonish),
    prevResult: jsonish,
    args: jsonish,
  },
  { requiredKeys: [] },
);

const CONF_TOKENS = fc.oneof(
  COMMON_TOKENS,
  fc.constantFrom('"cniVersion":', '"name":', '"delegate":', '"ipam":', '"subnetFile":', '"dataDir":', '"type":', '"1.0.0"', '"0.3.1"', '{"a":', '[[', ']]', '\\u0000', '\\ud800', '"__proto__":'),
);
const confText = fc.oneof(
  { weight: 4, arbitrary: mutated(confObject.map((o) => JSON.stringify(o)), CONF_TOKENS) },
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 5 }),
  deepJsonText('{"name":"n"}', 20_000),
  repeated(fc.constantFrom('{"name":"n",', '[', '"\\\\', ' ', '{"a":['), 20_000),
);

const V4: SubnetEnv = { network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), mtu: 1450, ipMasq: true };
const DUAL: SubnetEnv = { ...V4, ipv6Network: Cidr.parse('fd00:10:244::/56'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64') };

/** The codes decoding may give: 1 version, 6 decoding, 7 invalid config. */
const DECODE_CODES = new Set([1, 6, 7]);

// ---- properties -----------------------------------------------------------------------------

describe('fuzz: CNI network configuration (stdin)', () => {
  it('parseNetConf: only CniError (code 1, 6 or 7) escapes; what parses has the types it promises', () => {
    fc.assert(
      fc.property(confText, (text) => {
        const r = onlyFlannelErrors(() => parseNetConf(text), [CniError]);
        if (!r.ok) {
          const e = r.error as CniError;
          assert.ok(DECODE_CODES.has(e.cniCode), `code ${e.cniCode} for "${e.message}"`);
          assert.ok(e.message.length <= 1024, `a short message (${e.message.length} characters)`);
          assert.ok(e.details.length <= 4096, `short details (${e.details.length} characters)`);
          return;
        }
        const c = r.value;
        assert.ok((SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion));
        assert.match(c.name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
        for (const v of [c.subnetFile, c.dataDir]) assert.ok(typeof v === 'string' && v.length > 0);
        for (const o of [c.delegate, c.ipam, c.runtimeConfig]) assert.ok(o === undefined || (typeof o === 'object' && o !== null && !Array.isArray(o)));
        for (const a of c.validAttachments ?? []) assert.equal(typeof a.containerID, 'string');
        assert.ok(!nestsDeeperThan(text, JSON_DEPTH_LIMIT));
      }),
      fuzzParams(),
    );
  });

  it('a valid configuration decodes to what was encoded (defaults where a key is absent)', () => {
    const valid = fc.record(
      {
        cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
        name: NAME,
        subnetFile: fc.string({ minLength: 1, maxLength: 30 }),
        dataDir: fc.string({ minLength: 1, maxLength: 30 }),
        delegate: fc.dictionary(fc.string({ maxLength: 8 }), jsonish, { maxKeys: 4 }),
        extra: fc.dictionary(fc.constantFrom('args', 'prevResult', 'capabilities', 'unknownKey'), jsonish, { maxKeys: 3 }),
      },
      { requiredKeys: ['cniVersion', 'name'] },
    );
    fc.assert(
      fc.property(valid, ({ extra, ...o }) => {
        const c = parseNetConf(JSON.stringify({ ...extra, ...o }));
        assert.equal(c.cniVersion, o.cniVersion);
        assert.equal(c.hasCniVersion, true);
        assert.equal(c.name, o.name);
        assert.equal(c.subnetFile, o.subnetFile ?? '/run/flannel/subnet.env');
        assert.equal(c.dataDir, o.dataDir ?? '/var/lib/cni/flannel');
        assert.deepEqual(c.delegate, o.delegate === undefined ? undefined : JSON.parse(JSON.stringify(o.delegate)));
      }),
      fuzzParams(),
    );
  });

  it('JSON nested deeper than the limit is code 6 (never a stack overflow); the scan agrees with the nesting', () => {
    // [open, close, levels each pair adds]; the last hides brackets and an escaped quote in a string
    const pairs = fc.constantFrom<[string, string, number]>(['[', ']', 1], ['{"a":', '}', 1], ['{"x":"[{\\"]","y":[', ']}', 2]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 * JSON_DEPTH_LIMIT }), pairs, (depth, [open, close, each]) => {
        const text = `{"name":"n","cniVersion":"1.0.0","delegate":{"v":${open.repeat(depth)}1${close.repeat(depth)}}}`;
        const levels = 2 + depth * each; // the configuration's own two levels
        assert.equal(nestsDeeperThan(text, JSON_DEPTH_LIMIT), levels > JSON_DEPTH_LIMIT, `${levels} levels`);
        const r = onlyFlannelErrors(() => parseNetConf(text), [CniError]);
        if (levels > JSON_DEPTH_LIMIT) {
          assert.equal(r.ok, false);
          if (!r.ok) assert.equal(r.error.message, `error unmarshall network config: nested more than ${JSON_DEPTH_LIMIT} levels deep`);
        } else {
          assert.ok(r.ok, 'within the limit the configuration is read');
          canonicalJson(buildDelegate(r.value, V4));
        }
      }),
      fuzzParams(),
    );
  });

  it('decodeJson messages do not depend on the engine: one of four fixed texts', () => {
    const fixed = new Set([
      'error unmarshall network config: stdin is empty',
      'error unmarshall network config: stdin is not valid JSON',
      'error unmarshall network config: the network configuration must be a JSON object',
      `error unmarshall network config: nested more than ${JSON_DEPTH_LIMIT} levels deep`,
    ]);
    fc.assert(
      fc.property(confText, (text) => {
        const r = onlyFlannelErrors(() => decodeJson(text), [CniError]);
        if (!r.ok) assert.ok(fixed.has(r.error.message), r.error.message);
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: cniVersion handling', () => {
  it('requireSupported accepts exactly the five versions; anything else is code 1 quoting at most 64 characters', () => {
    fc.assert(
      fc.property(fc.oneof(version, fc.string({ unit: 'binary', maxLength: 300 })), (v) => {
        const r = onlyFlannelErrors(() => requireSupported(v), [CniError]);
        assert.equal(r.ok, (SUPPORTED_VERSIONS as readonly string[]).includes(v), v);
        if (!r.ok) {
          assert.equal((r.error as CniError).cniCode, 1);
          assert.ok((r.error as CniError).details.length < 200);
        }
      }),
      fuzzParams(),
    );
  });

  it('compareVersions orders dotted versions numerically and rejects the rest with code 6', () => {
    const dotted = fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999));
    fc.assert(
      fc.property(dotted, dotted, (a, b) => {
        const want = Math.sign(a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
        assert.equal(Math.sign(compareVersions(a.join('.'), b.join('.'))), want);
      }),
      fuzzParams(),
    );
    fc.assert(
      fc.property(version, fc.constantFrom('0.4.0', '1.1.0'), fc.constantFrom('CHECK', 'STATUS', 'GC'), (v, min, command) => {
        const r = onlyFlannelErrors(() => requireCommandVersion(command, v, min), [CniError]);
        if (!r.ok) assert.ok([1, 6].includes((r.error as CniError).cniCode));
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: the delegate configuration ADD saves', () => {
  it('buildDelegate + canonicalJson: only CniError escapes; the saved bytes decode to the delegate', () => {
    fc.assert(
      fc.property(confText, fc.constantFrom(V4, DUAL), (text, env) => {
        const r = onlyFlannelErrors(() => {
          const conf = parseNetConf(text);
          delegateType(conf);
          const d = buildDelegate(conf, env);
          return { d, bytes: canonicalJson(d) };
        }, [CniError]);
        if (!r.ok) return;
        assert.deepEqual(JSON.parse(r.value.bytes), JSON.parse(JSON.stringify(r.value.d)));
        assert.doesNotMatch(r.value.bytes, /[<>&\u2028\u2029]/);
      }),
      fuzzParams(),
    );
  });

  it('canonicalJson(v) decodes to v, keys in code point order at every level (as Go writes a map), "__proto__" kept', () => {
    const key = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('', '0', '1', '10', '01', '-1', '__proto__', 'constructor', '\ue000', '\u{1f600}', 'Z', 'a'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue({ maxDepth: 1 }), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(key, tie('node'), { maxKeys: 5 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        // Through JSON text, as the plugin gets it: "__proto__" becomes an own key.
        const input: unknown = JSON.parse(JSON.stringify(v));
        const text = canonicalJson(input);
        assert.deepEqual(JSON.parse(text), input);
        assert.equal(canonicalJson(JSON.parse(text)), text, 'stable');
        assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
        for (const keys of objectKeysInText(text)) assert.deepEqual(keys, [...keys].sort(compareCodePoints), text);
      }),
      fuzzParams(),
    );
  });
});

/** The keys of every object in JSON `text`, in the order the text has them (JSON.parse would reorder "0" first). */
function objectKeysInText(text: string): string[][] {
  const done: string[][] = [];
  const stack: Array<string[] | undefined> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (text[j + 1] === ':' && top) top.push(JSON.parse(text.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{') stack.push([]);
    else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') {
      const top = stack.pop();
      if (top) done.push(top);
    }
  }
  return done;
}
