import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { formatSubnetEnv, parseSubnetEnv, writeSubnetEnv, type SubnetEnv } from './index.ts';

/** A network and a subnet inside it, of one family. */
function pool(family: 4 | 6): fc.Arbitrary<{ network: Cidr; subnet: Cidr }> {
  const bits = family === 4 ? 32 : 128;
  return fc
    .tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.integer({ min: 0, max: bits }), fc.integer({ min: 0, max: bits }), fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }))
    .map(([v, a, b, s]) => {
      const [netLen, subLen] = a <= b ? [a, b] : [b, a];
      const network = Cidr.of(IPAddress.fromBigInt(family, v), netLen);
      const hostBits = (1n << BigInt(bits - netLen)) - 1n;
      return { network, subnet: Cidr.of(IPAddress.fromBigInt(family, network.ip.value | (s & hostBits)), subLen) };
    });
}

const env: fc.Arbitrary<SubnetEnv> = fc
  .record({
    v4: fc.option(pool(4), { nil: undefined }),
    v6: fc.option(pool(6), { nil: undefined }),
    mtu: fc.integer({ min: 68, max: 65535 }),
    ipMasq: fc.boolean(),
  })
  .filter((e) => e.v4 !== undefined || e.v6 !== undefined)
  .map((e) => ({
    ...(e.v4 ? { network: e.v4.network, subnet: e.v4.subnet } : {}),
    ...(e.v6 ? { ipv6Network: e.v6.network, ipv6Subnet: e.v6.subnet } : {}),
    mtu: e.mtu,
    ipMasq: e.ipMasq,
  }));

function same(a: SubnetEnv, b: SubnetEnv): void {
  assert.equal(a.network?.toString(), b.network?.toString());
  assert.equal(a.subnet?.toString(), b.subnet?.toString());
  assert.equal(a.ipv6Network?.toString(), b.ipv6Network?.toString());
  assert.equal(a.ipv6Subnet?.toString(), b.ipv6Subnet?.toString());
  assert.equal(a.mtu, b.mtu);
  assert.equal(a.ipMasq, b.ipMasq);
}

/** Hand-edited files: comments, CRLF, quotes, blanks, extra variables, reordered lines. */
const edited = fc
  .tuple(env, fc.array(fc.constantFrom('# written by hand', '', '   ', 'OTHER=1', 'export X=1', 'FLANNEL_EXTRA=yes'), { maxLength: 4 }), fc.boolean(), fc.boolean(), fc.nat())
  .map(([e, extra, crlf, quote, seed]) => {
    const lines = formatSubnetEnv(e).trimEnd().split('\n').map((l) => (quote ? l.replace('=', '="') + '"' : l));
    for (const [i, x] of extra.entries()) lines.splice((seed + i) % (lines.length + 1), 0, x);
    return lines.join(crlf ? '\r\n' : '\n');
  });
const TOKENS = fc.constantFrom('=', '==', '"', '\n', '\r', '#', ' ', '/', '.', ':', '0', '67', '65536', 'true', 'TRUE', 'FLANNEL_MTU=', 'FLANNEL_SUBNET=', 'FLANNEL_NETWORK=', 'FLANNEL_IPV6_SUBNET=', '\0', '');

describe('fuzz: subnet.env', () => {
  it('parse(format(env)) is env', () => {
    fc.assert(
      fc.property(env, (e) => {
        const text = formatSubnetEnv(e);
        const back = parseSubnetEnv(text, 'subnet.env');
        same(back, e);
        assert.equal(formatSubnetEnv(back), text);
      }),
      fuzzParams(),
    );
  });

  it('only ConfigError escapes from edited and mutated files; what parses is consistent', () => {
    const text = fc.oneof(
      { weight: 6, arbitrary: mutated(edited, TOKENS) },
      fc.string({ maxLength: 40 }),
      repeated(fc.constantFrom('FLANNEL_MTU=1450\n', '#\n', '\n', 'X=')),
      edited.map((t) => t + '\nJUNK='.repeat(20_000)),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = onlyFlannelErrors(() => parseSubnetEnv(t, '/run/flannel/subnet.env'), [ConfigError]);
        if (!r.ok) {
          assert.match(r.error.message, /^\/run\/flannel\/subnet\.env[:\s]/, 'the message names the file');
          return;
        }
        const e = r.value;
        assert.ok(e.subnet || e.ipv6Subnet);
        assert.ok(!e.subnet || (e.network && e.subnet.family === 4 && e.network.family === 4));
        assert.ok(!e.ipv6Subnet || (e.ipv6Network && e.ipv6Subnet.family === 6 && e.ipv6Network.family === 6));
        assert.ok(Number.isInteger(e.mtu) && e.mtu >= 68 && e.mtu <= 65535);
        // Only complete families are written back.
        const back = parseSubnetEnv(formatSubnetEnv(e), 'again');
        assert.equal(back.subnet?.toString(), e.subnet?.toString());
        assert.equal(back.ipv6Subnet?.toString(), e.ipv6Subnet?.toString());
        assert.equal(back.mtu, e.mtu);
      }),
      fuzzParams(),
    );
  });

  describe('written to a file', () => {
    let dir = '';
    before(async () => {
      dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'flannel-fuzz-subnetenv-'));
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reading back what writeSubnetEnv wrote gives the same env', async () => {
      await fc.assert(
        fc.asyncProperty(env, async (e) => {
          const path = join(dir, 'run', 'flannel', 'subnet.env');
          await writeSubnetEnv(path, e);
          same(parseSubnetEnv(await readFile(path, 'utf8'), path), e);
        }),
        fuzzParams(),
      );
    });
  });
});
