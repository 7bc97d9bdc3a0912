/**
 * Property-based test of the whole dispatcher (plugin.ts) in-process: fuzzed CNI_* environment
 * and stdin, every command. Whatever comes in, runCni resolves (never rejects), exits 0 or 1, and
 * an error is exactly one CNI error result line; nothing escapes its temp dir (the configuration's
 * paths are confined there, a stub stands in for bridge). Runs per property: FUZZ_RUNS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CALL_LIMIT_MS, COMMON_TOKENS, fuzzParams, mutated } from '../../test/harness/fuzz.ts';
import { COMMANDS } from './env.ts';
import { parseNetConf } from './net-conf.ts';
import { runCni } from './plugin.ts';
import { tooLarge } from './sys/sys.ts';
import { SUPPORTED_VERSIONS } from './versions.ts';

describe('fuzz: the CNI plugin end to end (in-process)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'flt-cni-fuzz-plugin-'));
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    // Answers like bridge: VERSION, a result for ADD, nothing for the rest.
    writeFileSync(
      join(root, 'bin', 'bridge'),
      '#!/bin/sh\ncat > /dev/null\ncase "$CNI_COMMAND" in VERSION) echo \'{"cniVersion":"1.1.0","supportedVersions":["0.3.1","1.0.0","1.1.0"]}\';; ' +
        'ADD) echo \'{"cniVersion":"1.0.0","ips":[{"address":"10.244.1.2/24"}]}\';; esac\nexit 0\n',
    );
    chmodSync(join(root, 'bin', 'bridge'), 0o755);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Only paths inside the temp dir: the fuzzer must not write, read or remove anything else. */
  function confined(stdin: string): boolean {
    let c;
    try {
      c = parseNetConf(stdin);
    } catch {
      return true; // never gets past decoding: no path is used
    }
    return [c.subnetFile, c.dataDir].every((p) => p.startsWith(`${root}/`) && !p.split('/').includes('..'));
  }

  it('runCni always answers: exit 0, or exit 1 with one CNI error result line', async () => {
    const base = fc.record({
      cniVersion: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('1.0.0', '1.1.0') }, fc.constantFrom(...SUPPORTED_VERSIONS, '0.2.0', '')),
      name: fc.oneof({ weight: 8, arbitrary: fc.constant('cbr0') }, fc.constantFrom('n', '', 'a/b')),
      type: fc.constant('flannel'),
      subnetFile: fc.oneof({ weight: 6, arbitrary: fc.constant(join(root, 'subnet.env')) }, fc.constantFrom(join(root, 'missing.env'), join(root, 'bin'))),
      dataDir: fc.oneof({ weight: 6, arbitrary: fc.constant(join(root, 'data')) }, fc.constantFrom(join(root, 'subnet.env'), join(root, 'data', 'nested'))),
      delegate: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, fc.record({ type: fc.constantFrom('bridge', 'macvlan', '../bridge', 'flannel'), hairpinMode: fc.boolean() }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 2 })),
      'cni.dev/valid-attachments': fc.oneof(fc.constant(undefined), fc.array(fc.record({ containerID: fc.constantFrom('c1', 'c2'), ifname: fc.constant('eth0') }), { maxLength: 2 })),
    }, { requiredKeys: ['type', 'subnetFile', 'dataDir'] });
    const stdin = fc.oneof(
      { weight: 3, arbitrary: base.map((o) => JSON.stringify(o)) },
      { weight: 2, arbitrary: mutated(base.map((o) => JSON.stringify(o)), fc.oneof(COMMON_TOKENS, fc.constantFrom('"cniVersion":"1.1.0",', '"name":"x",', '{', '}'))) },
    );
    // Each variable right most of the time, else absent, empty or odd.
    const value = fc.oneof(fc.constant(undefined), fc.constantFrom('', 'c1', 'c2', 'eth0', '/var/run/netns/x', 'a'.repeat(300), '../x'), fc.string({ maxLength: 20 }));
    const env = fc.record({
      CNI_COMMAND: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...COMMANDS) }, fc.constantFrom(undefined, '', 'FOO')),
      CNI_CONTAINERID: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('c1', 'c2') }, value),
      CNI_NETNS: fc.oneof({ weight: 8, arbitrary: fc.constant('/var/run/netns/x') }, value),
      CNI_IFNAME: fc.oneof({ weight: 8, arbitrary: fc.constant('eth0') }, value),
      CNI_ARGS: value,
      CNI_PATH: fc.oneof({ weight: 3, arbitrary: fc.constant(join(root, 'bin')) }, fc.constant(`/nonexistent:${join(root, 'bin')}`), value),
    });
    await fc.assert(
      fc.asyncProperty(env, stdin, async (e, text) => {
        fc.pre(confined(text));
        const start = performance.now();
        const o = await runCni({
          env: e,
          readStdin: (limit) => {
            if (Buffer.byteLength(text) > limit) throw tooLarge('stdin', limit);
            return text;
          },
          programVersion: () => '1.2.3',
        });
        assert.ok(performance.now() - start < CALL_LIMIT_MS, 'bounded time');
        assert.ok(o.exitCode === 0 || o.exitCode === 1, `exit ${o.exitCode}`);
        if (o.exitCode === 0) return;
        assert.ok(o.stdout.endsWith('\n') && o.stdout.indexOf('\n') === o.stdout.length - 1, o.stdout);
        const r = JSON.parse(o.stdout) as Record<string, unknown>;
        assert.deepEqual(Object.keys(r), ['cniVersion', 'code', 'msg', 'details']);
        assert.ok(Number.isInteger(r.code), String(r.code));
        assert.ok((SUPPORTED_VERSIONS as readonly string[]).includes(String(r.cniVersion)));
        assert.ok(typeof r.msg === 'string' && r.msg.length > 0);
        assert.doesNotMatch(String(r.msg), /TypeError|RangeError|is not a function|Cannot read properties|undefined is not/, 'no JavaScript error text');
      }),
      fuzzParams(),
    );
  });
});
