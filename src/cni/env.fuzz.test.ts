/**
 * Property-based tests of the CNI_* environment (env.ts): only CniError escapes, with code 3 or 4;
 * the container ID and interface name rules agree with independent oracles (the spec's pattern
 * and NAME_MAX, the kernel's byte count). Runs per property: FUZZ_RUNS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { CniError } from './cni-error.ts';
import { COMMANDS, parseCniEnv, validateContainerId, validateInterfaceName } from './env.ts';
import { CONTAINER_ID_LIMIT, IFNAME_LIMIT, utf8Length } from './limits.ts';

const ID_TOKENS = fc.constantFrom('', '.', '..', '../', '/', '-', '_', 'a', 'Z', '9', ' ', '\n', '\t', ':', 'é', '\u{1f600}', '\ud800', '%', '\u00a0', '\u2028');
const idText = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,70}$/),
  mutated(fc.constantFrom('a51debf7e1eb', 'f'.repeat(64), 'pod-1.ctr_2'), ID_TOKENS),
  fc.tuple(fc.integer({ min: 250, max: 260 }), fc.constantFrom('a', 'b.', '0-')).map(([n, s]) => s.repeat(n).slice(0, n)),
  repeated(fc.constantFrom('a', 'f0', '../'), 40_000),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const ifText = fc.oneof(
  mutated(fc.constantFrom('eth0', 'net1', 'a'.repeat(15), 'veth1234567890a'), ID_TOKENS),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 18 }),
);

const SPEC_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

describe('fuzz: CNI environment', () => {
  it('container IDs: accepted exactly when they match the spec pattern and have at most 255 characters', () => {
    fc.assert(
      fc.property(idText, (id) => {
        const r = onlyFlannelErrors(() => validateContainerId(id), [CniError]);
        const want = SPEC_ID.test(id) && id.length <= CONTAINER_ID_LIMIT;
        assert.equal(r.ok, want, JSON.stringify(id.slice(0, 80)));
        if (r.ok) {
          assert.ok(!id.includes('/') && id !== '.' && id !== '..', 'a file name inside dataDir');
          assert.ok(Buffer.byteLength(id) <= 255);
          return;
        }
        const e = r.error as CniError;
        if (id === '') assert.deepEqual([e.cniCode, e.message], [3, 'missing containerID']);
        else if (!SPEC_ID.test(id)) assert.deepEqual([e.cniCode, e.message], [4, 'invalid characters in containerID']);
        else assert.deepEqual([e.cniCode, e.message], [4, `containerID is too long: ${id.length} characters, the limit is ${CONTAINER_ID_LIMIT}`]);
        assert.ok(e.details.length <= 400, 'the ID is quoted clipped');
      }),
      fuzzParams(),
    );
  });

  it('interface names: the kernel rules, length in UTF-8 bytes', () => {
    fc.assert(
      fc.property(ifText, (name) => {
        const r = onlyFlannelErrors(() => validateInterfaceName(name), [CniError]);
        const want = name !== '' && Buffer.byteLength(name) <= IFNAME_LIMIT && name !== '.' && name !== '..' && !/[/:\s]/u.test(name);
        assert.equal(r.ok, want, JSON.stringify(name));
        if (!r.ok) assert.equal((r.error as CniError).cniCode, 4);
      }),
      fuzzParams(),
    );
  });

  it('utf8Length is what Buffer.byteLength counts, lone surrogates included', () => {
    const units = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(units, fc.string({ unit: 'binary', maxLength: 40 })), (s) => assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'))),
      fuzzParams(),
    );
  });

  it('parseCniEnv: only CniError (code 3 or 4) escapes; what it returns was checked', () => {
    const value = fc.oneof(fc.constant(undefined), fc.constant(''), idText, ifText, fc.string({ maxLength: 30 }));
    const env = fc.record(
      {
        CNI_COMMAND: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...COMMANDS) }, fc.constantFrom('add', 'DELETE', ' ADD', ''), fc.string({ maxLength: 10 })),
        CNI_CONTAINERID: value,
        CNI_NETNS: fc.oneof(value, fc.constant('/var/run/netns/p1')),
        CNI_IFNAME: fc.oneof(value, fc.constant('eth0')),
        CNI_ARGS: value,
        CNI_PATH: fc.oneof(value, fc.constant('/opt/cni/bin:/usr/lib/cni')),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(env, (e) => {
        const r = onlyFlannelErrors(() => parseCniEnv(e), [CniError]);
        if (!r.ok) {
          assert.ok([3, 4].includes((r.error as CniError).cniCode), r.error.message);
          assert.ok(r.error.message.length <= 400, `a short message: ${r.error.message.slice(0, 100)}`);
          return;
        }
        const p = r.value;
        assert.ok((COMMANDS as readonly string[]).includes(p.command));
        if (p.command === 'ADD' || p.command === 'DEL' || p.command === 'CHECK') {
          validateContainerId(p.containerId);
          validateInterfaceName(p.ifname);
          assert.notEqual(p.path, '');
        }
        if (p.command === 'ADD' || p.command === 'CHECK') assert.notEqual(p.netns, '');
      }),
      fuzzParams(),
    );
  });
});
