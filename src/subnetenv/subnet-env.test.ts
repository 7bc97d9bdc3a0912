import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cidr } from '../ip/index.ts';
import { formatSubnetEnv, parseSubnetEnv, writeSubnetEnv } from './index.ts';

const v4 = { network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24') };
const v6 = { ipv6Network: Cidr.parse('fd00:10:244::/56'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64') };

describe('subnet.env', () => {
  it('is byte-for-byte upstream for IPv4', () => {
    assert.equal(formatSubnetEnv({ ...v4, mtu: 1450, ipMasq: true }), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });
  it('is byte-for-byte upstream for IPv6 only', () => {
    assert.equal(
      formatSubnetEnv({ ...v6, mtu: 1430, ipMasq: false }),
      'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n',
    );
  });
  it('is byte-for-byte upstream for dual stack', () => {
    assert.equal(
      formatSubnetEnv({ ...v4, ...v6, mtu: 1450, ipMasq: true }),
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });
  it('parses what it writes', () => {
    const env = parseSubnetEnv(formatSubnetEnv({ ...v4, ...v6, mtu: 1450, ipMasq: true }), 'subnet.env');
    assert.equal(env.subnet?.toString(), '10.244.1.0/24');
    assert.equal(env.ipv6Subnet?.toString(), 'fd00:10:244:1::/64');
    assert.equal(env.mtu, 1450);
    assert.equal(env.ipMasq, true);
  });
  const bad: Array<[string, RegExp]> = [
    ['FLANNEL_MTU=1450\n', /neither FLANNEL_SUBNET nor FLANNEL_IPV6_SUBNET/],
    ['FLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n', /FLANNEL_NETWORK is missing/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n', /FLANNEL_MTU is missing/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=bogus\nFLANNEL_MTU=1450\n', /FLANNEL_SUBNET="bogus" is not an IPv4 CIDR/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=abc\n', /FLANNEL_MTU="abc"/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=yes\n', /FLANNEL_IPMASQ="yes"/],
    ['garbage\n', /is not a NAME=value line/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseSubnetEnv(text, '/run/flannel/subnet.env'), re));
  }
  it('writes atomically with mode 0644 and leaves no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flt-env-'));
    try {
      const path = join(dir, 'nested', 'subnet.env');
      await writeSubnetEnv(path, { ...v4, mtu: 1450, ipMasq: false });
      await writeSubnetEnv(path, { ...v4, mtu: 1400, ipMasq: false });
      assert.match(await readFile(path, 'utf8'), /FLANNEL_MTU=1400/);
      assert.equal((await stat(path)).mode & 0o777, 0o644);
      assert.deepEqual(await readdir(join(dir, 'nested')), ['subnet.env']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes one pair of double quotes off a value, and only a whole pair, as /^"(.*)"$/ did', () => {
    const env = (mtu: string): string => `FLANNEL_NETWORK="10.244.0.0/16"\nFLANNEL_SUBNET="10.244.1.1/24"\nFLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ="true"\n`;
    assert.deepEqual(parseSubnetEnv(env('"1450"'), 'x'), { ...v4, mtu: 1450, ipMasq: true });
    for (const bad of ['"1450', '1450"', '""1450""', '"14\r50"', '" 1450"', '""', '"']) {
      assert.throws(() => parseSubnetEnv(env(bad), 'x'), /FLANNEL_MTU=[\s\S]* is not an MTU/, bad);
    }
  });
});

