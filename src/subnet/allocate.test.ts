import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../config/index.ts';
import { LeaseError } from '../errors/index.ts';
import { Cidr, type SubnetPair } from '../ip/index.ts';
import { allocateSubnets, freeCandidates, isPairInPools, overlapsTaken } from './allocate.ts';

const conf = (json: object) => parseNetworkConfig(JSON.stringify(json));
const c = (s: string) => Cidr.parse(s);
const v4 = (...s: string[]): SubnetPair[] => s.map((x) => ({ v4: c(x) }));
const str = (p: SubnetPair) => [p.v4?.toString(), p.v6?.toString()].filter(Boolean).join('&');

describe('freeCandidates', () => {
  it('starts at SubnetMin (the second subnet by default) and stops at SubnetMax', () => {
    const cfg = conf({ Network: '10.10.0.0/28', SubnetLen: 30 });
    assert.deepEqual(freeCandidates(cfg, []).map(str), ['10.10.0.4/30', '10.10.0.8/30', '10.10.0.12/30']);
  });

  it('honours explicit SubnetMin / SubnetMax', () => {
    const cfg = conf({ Network: '10.1.0.0/16', SubnetMin: '10.1.5.0', SubnetMax: '10.1.7.0' });
    assert.deepEqual(freeCandidates(cfg, []).map(str), ['10.1.5.0/24', '10.1.6.0/24', '10.1.7.0/24']);
  });

  it('skips taken subnets, including bigger or smaller blocks that overlap', () => {
    const cfg = conf({ Network: '10.1.0.0/16' });
    const taken = v4('10.1.1.0/24', '10.1.2.0/23', '10.1.5.128/25', '10.2.0.0/24');
    assert.deepEqual(freeCandidates(cfg, taken, 3).map(str), ['10.1.4.0/24', '10.1.6.0/24', '10.1.7.0/24']);
  });

  it('returns at most `limit` candidates, in order', () => {
    const cfg = conf({ Network: '10.0.0.0/8' });
    const got = freeCandidates(cfg, v4('10.0.3.0/24'));
    assert.equal(got.length, 100);
    assert.equal(str(got[0]!), '10.0.1.0/24');
    assert.equal(str(got[2]!), '10.0.4.0/24');
    assert.equal(str(got[99]!), '10.0.101.0/24');
  });
});

describe('allocateSubnets', () => {
  it('always lands inside [SubnetMin, SubnetMax] and never on a taken subnet', () => {
    const cfg = conf({ Network: '10.5.0.0/16', SubnetMin: '10.5.10.0', SubnetMax: '10.5.20.0' });
    const taken = v4('10.5.10.0/24', '10.5.12.0/24');
    for (let i = 0; i < 200; i++) {
      const got = allocateSubnets(cfg, taken);
      assert.ok(isPairInPools(cfg, got), str(got));
      assert.ok(!overlapsTaken(got, taken), str(got));
    }
  });

  it('chooses at random among the first 100 free subnets', () => {
    const cfg = conf({ Network: '10.0.0.0/8' });
    assert.equal(str(allocateSubnets(cfg, [], { random: () => 0 })), '10.0.1.0/24');
    assert.equal(str(allocateSubnets(cfg, [], { random: () => 0.9999999 })), '10.0.100.0/24');
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(str(allocateSubnets(cfg, [])));
    assert.ok(seen.size > 50, `only ${seen.size} distinct picks`);
    for (const s of seen) assert.ok(Cidr.parse(s).ip.compare(Cidr.parse('10.0.100.0/24').ip) <= 0, s);
  });

  it('treats reservations like leases: any taken key is skipped', () => {
    const cfg = conf({ Network: '10.10.0.0/28', SubnetLen: 30 });
    const reservation = v4('10.10.0.8/30');
    for (let i = 0; i < 50; i++) assert.notEqual(str(allocateSubnets(cfg, reservation)), '10.10.0.8/30');
  });

  it('fails with E_POOL_EXHAUSTED naming the network, SubnetLen, range and lease count', () => {
    const cfg = conf({ Network: '10.10.0.0/28', SubnetLen: 30 });
    const taken = v4('10.10.0.4/30', '10.10.0.8/30', '10.10.0.12/30');
    assert.throws(
      () => allocateSubnets(cfg, taken, { leaseCount: 3, removeHint: 'remove stale leases with `etcdctl del /p/subnets/<key>`' }),
      (err: unknown) => {
        assert.ok(err instanceof LeaseError);
        assert.equal(err.code, 'E_POOL_EXHAUSTED');
        for (const part of ['10.10.0.0/28', 'SubnetLen 30', '10.10.0.4', '10.10.0.12', '3 leases exist']) {
          assert.ok(err.message.includes(part), `message lacks "${part}": ${err.message}`);
        }
        assert.match(err.hint ?? '', /bigger Network/);
        assert.match(err.hint ?? '', /SubnetLen/);
        assert.match(err.hint ?? '', /etcdctl del \/p\/subnets\/<key>/);
        return true;
      },
    );
  });

  it('handles a huge IPv6 pool without enumerating it', () => {
    const cfg = conf({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00::/8' }); // 2^56 subnets
    const taken: SubnetPair[] = [{ v6: c('fd00:0:0:1::/64') }, { v6: c('fd00:0:0:3::/64') }];
    const got = freeCandidates(cfg, taken, 3).map(str);
    assert.deepEqual(got, ['fd00:0:0:2::/64', 'fd00:0:0:4::/64', 'fd00:0:0:5::/64']);
    const started = performance.now();
    const pick = allocateSubnets(cfg, taken);
    assert.ok(performance.now() - started < 100);
    assert.equal(pick.v4, undefined);
    assert.ok(isPairInPools(cfg, pick));
  });

  it('finds the free tail of a huge IPv6 pool whose head is taken by one big block', () => {
    const cfg = conf({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00::/8' });
    const got = freeCandidates(cfg, [{ v6: c('fd00::/9') }], 1).map(str);
    assert.deepEqual(got, ['fd80::/64']);
    const full = freeCandidates(cfg, [{ v6: c('fd00::/8') }]);
    assert.deepEqual(full, []);
  });

  it('dual stack picks both families in lockstep, free in both', () => {
    const cfg = conf({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
    const taken: SubnetPair[] = [{ v4: c('10.244.1.0/24'), v6: c('fd00:10:244:1::/64') }, { v4: c('10.244.2.0/24') }, { v6: c('fd00:10:244:3::/64') }];
    const got = freeCandidates(cfg, taken, 2).map(str);
    assert.deepEqual(got, ['10.244.4.0/24&fd00:10:244:4::/64', '10.244.5.0/24&fd00:10:244:5::/64']);
    const pick = allocateSubnets(cfg, taken);
    assert.ok(isPairInPools(cfg, pick));
    assert.ok(!overlapsTaken(pick, taken));
  });

  it('dual stack is bounded by the smaller pool', () => {
    // IPv4: 3 subnets; IPv6: 2^6 - 1 subnets.
    const cfg = conf({ Network: '10.10.0.0/28', SubnetLen: 30, EnableIPv6: true, IPv6Network: 'fd00::/58' });
    assert.equal(freeCandidates(cfg, []).length, 3);
    assert.throws(
      () => allocateSubnets(cfg, [{ v4: c('10.10.0.4/30') }, { v4: c('10.10.0.8/30') }, { v6: c('fd00:0:0:3::/64') }]),
      (err: unknown) => err instanceof LeaseError && err.code === 'E_POOL_EXHAUSTED' && /IPv6Network fd00::\/58/.test(err.message),
    );
  });
});

describe('isPairInPools', () => {
  const cfg = conf({ Network: '10.5.0.0/16' });
  it('accepts a subnet of the right length inside the range', () => assert.ok(isPairInPools(cfg, { v4: c('10.5.3.0/24') })));
  it('rejects the network subnet itself (below SubnetMin)', () => assert.ok(!isPairInPools(cfg, { v4: c('10.5.0.0/24') })));
  it('rejects a wrong length', () => assert.ok(!isPairInPools(cfg, { v4: c('10.5.3.0/25') })));
  it('rejects a subnet outside the network', () => assert.ok(!isPairInPools(cfg, { v4: c('10.6.3.0/24') })));
  it('rejects a family the config does not enable', () => assert.ok(!isPairInPools(cfg, { v4: c('10.5.3.0/24'), v6: c('fd00::/64') })));
});
