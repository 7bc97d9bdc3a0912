/**
 * Property-based tests of the subnet.env reader the plugin uses (subnet-file.ts, over the sys
 * layer's bounded reads): only CniError escapes, code 999, wrapping the parser's typed error;
 * formatSubnetEnv's output reads back as what was written; a file is read exactly when it has at
 * most SUBNET_FILE_LIMIT bytes, and refused naming the limit otherwise. Runs per property: FUZZ_RUNS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { FlannelError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { formatSubnetEnv, type SubnetEnv } from '../subnetenv/index.ts';
import { COMMON_TOKENS, fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { CniError } from './cni-error.ts';
import { SUBNET_FILE_LIMIT } from './limits.ts';
import { loadSubnetEnv, parseSubnetFileText } from './subnet-file.ts';
import { errnoCode, sys, TOO_LARGE } from './sys/sys.ts';

const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 30 })).map(([v, p]) => Cidr.of(IPAddress.fromBigInt(4, BigInt(v)), p));
const v6 = fc.tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 32, max: 126 })).map(([v, p]) => Cidr.of(IPAddress.fromBigInt(6, v), p));
const subnetEnv: fc.Arbitrary<SubnetEnv> = fc
  .record({ four: fc.option(fc.tuple(v4, v4), { nil: undefined }), six: fc.option(fc.tuple(v6, v6), { nil: undefined }), mtu: fc.integer({ min: 68, max: 65535 }), ipMasq: fc.boolean() })
  .filter((r) => r.four !== undefined || r.six !== undefined)
  .map((r) => {
    const env: SubnetEnv = { mtu: r.mtu, ipMasq: r.ipMasq };
    if (r.four) [env.network, env.subnet] = r.four;
    if (r.six) [env.ipv6Network, env.ipv6Subnet] = r.six;
    return env;
  });

const ENV_TOKENS = fc.oneof(COMMON_TOKENS, fc.constantFrom('FLANNEL_SUBNET=', 'FLANNEL_NETWORK=', 'FLANNEL_MTU=', 'FLANNEL_IPMASQ=', 'FLANNEL_IPV6_SUBNET=', '=', '\n', '"', '/24', '/129', '::', '10.244.', '# c\n'));
const envText = fc.oneof(
  { weight: 4, arbitrary: mutated(subnetEnv.map(formatSubnetEnv), ENV_TOKENS) },
  fc.string({ unit: 'binary', maxLength: 200 }),
  repeated(fc.constantFrom('FLANNEL_MTU=1450\n', '#\n', 'x', '=\n', 'FLANNEL_SUBNET='), 5_000),
);

const same = (a: Cidr | undefined, b: Cidr | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));

describe('fuzz: the plugin\'s subnet.env reader', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'flt-cni-fuzz-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parseSubnetFileText: only CniError (code 999) escapes, wrapping the parser\'s FlannelError', () => {
    fc.assert(
      fc.property(envText, (text) => {
        const r = onlyFlannelErrors(() => parseSubnetFileText(text, '/run/flannel/subnet.env'), [CniError]);
        if (r.ok) {
          assert.ok(r.value.subnet !== undefined || r.value.ipv6Subnet !== undefined);
          assert.ok(Number.isInteger(r.value.mtu) && r.value.mtu >= 68 && r.value.mtu <= 65535);
          return;
        }
        const e = r.error as CniError;
        assert.equal(e.cniCode, 999);
        assert.ok(e.cause instanceof FlannelError, `the cause is a typed parser error, not ${String(e.cause)}`);
        assert.ok(e.message.startsWith('invalid flannel subnet file: /run/flannel/subnet.env'), e.message.slice(0, 100));
        assert.ok(e.message.length <= 1100, `clipped (${e.message.length} characters)`);
      }),
      fuzzParams(),
    );
  });

  it('what formatSubnetEnv writes reads back as the same subnets, MTU and IPMASQ', () => {
    fc.assert(
      fc.property(subnetEnv, (env) => {
        const back = parseSubnetFileText(formatSubnetEnv(env), 'subnet.env');
        assert.ok(same(back.network, env.network) && same(back.subnet, env.subnet), 'IPv4');
        assert.ok(same(back.ipv6Network, env.ipv6Network) && same(back.ipv6Subnet, env.ipv6Subnet), 'IPv6');
        assert.equal(back.mtu, env.mtu);
        assert.equal(back.ipMasq, env.ipMasq);
        assert.equal(formatSubnetEnv(back), formatSubnetEnv(env));
      }),
      fuzzParams(),
    );
  });

  it('reads a file of at most the limit exactly and refuses a larger one, naming the limit (bounded read)', async () => {
    let n = 0;
    const sized = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: SUBNET_FILE_LIMIT - 70, max: SUBNET_FILE_LIMIT + 70 }), fc.integer({ min: SUBNET_FILE_LIMIT, max: 4 * SUBNET_FILE_LIMIT })),
      // "#" starts a comment line; multi-byte characters make characters and bytes differ
      fc.constantFrom('#', '\n', '#é', '#\u{1f600}', '#\0'),
      subnetEnv.map(formatSubnetEnv),
    );
    await fc.assert(
      fc.asyncProperty(sized, async ([bytes, fill, head]) => {
        const path = join(dir, `f${n++}`);
        const padBytes = Math.max(0, bytes - Buffer.byteLength(head));
        const pad = Buffer.from(fill.repeat(Math.ceil(padBytes / Buffer.byteLength(fill)))).subarray(0, padBytes);
        const content = Buffer.concat([Buffer.from(head), pad]);
        writeFileSync(path, content);
        try {
          let text: string | undefined;
          let err: unknown;
          try {
            text = await sys().readText(path, SUBNET_FILE_LIMIT);
          } catch (e) {
            err = e;
          }
          if (content.length <= SUBNET_FILE_LIMIT) assert.equal(text, content.toString('utf8'), `${content.length} bytes read back`);
          else assert.equal(errnoCode(err), TOO_LARGE, `${content.length} bytes: ${String(err)}`);
          let loaded: unknown;
          try {
            loaded = await loadSubnetEnv(path);
          } catch (e) {
            loaded = e;
          }
          if (content.length > SUBNET_FILE_LIMIT) {
            assert.ok(loaded instanceof CniError && loaded.cniCode === 999, String(loaded));
            assert.ok(loaded.message.startsWith(`flannel subnet file ${path} is larger than 64 KiB (65536 bytes)`), loaded.message);
          } else assert.ok(!(loaded instanceof Error) || loaded instanceof CniError, `only CniError: ${String(loaded)}`);
        } finally {
          rmSync(path, { force: true });
        }
      }),
      fuzzParams(),
    );
  });
});
