/**
 * ExpirationCache over the in-memory etcd: one LeaseTimeToLive per etcd lease, then the cache;
 * the bound the watch uses without a round trip; the cache's size limit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExpirationCache } from './expirations.ts';
import { ManualClock, MemoryEtcd, MemoryRegistry } from './memory-registry.ts';

const signal = (): AbortSignal => AbortSignal.timeout(10_000);

function setup() {
  const clock = new ManualClock();
  const etcd = new MemoryEtcd({ now: clock.now });
  const lookups: string[] = [];
  class Counting extends MemoryRegistry {
    override async leaseTimeToLive(id: string, s: AbortSignal): Promise<number | undefined> {
      lookups.push(id);
      return await super.leaseTimeToLive(id, s);
    }
  }
  const registry = new Counting(etcd);
  return { clock, etcd, registry, lookups, cache: new ExpirationCache(registry, clock.now) };
}

describe('etcd lease expirations', () => {
  it('asks etcd once per etcd lease, then answers from the cache', async () => {
    const { clock, registry, lookups, cache } = setup();
    const { id } = await registry.grantLease(60, signal());
    clock.advance(20_000);
    const at = clock.now() + 40_000;
    assert.equal((await cache.of({ leaseId: id }, signal()))?.getTime(), at);
    clock.advance(5000);
    assert.equal((await cache.of({ leaseId: id }, signal()))?.getTime(), at, 'an etcd lease is never kept alive: its expiry does not move');
    assert.deepEqual(lookups, [id]);
  });

  it('has no expiry for a reservation, and says "now" for a lease that is already gone', async () => {
    const { clock, lookups, cache } = setup();
    assert.equal(await cache.of({ leaseId: '0' }, signal()), undefined);
    assert.equal((await cache.of({ leaseId: '12345' }, signal()))?.getTime(), clock.now());
    assert.deepEqual(lookups, ['12345']);
  });

  it('needs no lookup for a lease it granted itself', async () => {
    const { clock, lookups, cache } = setup();
    const at = new Date(clock.now() + 86_400_000);
    cache.remember('77', at);
    assert.equal((await cache.of({ leaseId: '77' }, signal()))?.getTime(), at.getTime());
    assert.deepEqual(lookups, []);
  });

  it('bounds an unknown expiry by a full TTL from now, without a round trip', () => {
    const { clock, lookups, cache } = setup();
    assert.equal(cache.bound({ leaseId: '0' }, 60), undefined);
    assert.equal(cache.bound({ leaseId: '5' }, 60)?.getTime(), clock.now() + 60_000);
    cache.remember('5', new Date(clock.now() + 1000));
    assert.equal(cache.bound({ leaseId: '5' }, 60)?.getTime(), clock.now() + 1000);
    assert.deepEqual(lookups, []);
  });

  it('keeps at most 50,000 etcd leases, forgetting the least recently stored', async () => {
    const { clock, lookups, cache } = setup();
    for (let i = 1; i <= 50_001; i++) cache.remember(String(i), new Date(clock.now() + i));
    assert.equal(cache.bound({ leaseId: '2' }, 60)?.getTime(), clock.now() + 2, 'the second oldest is still known');
    assert.equal(cache.bound({ leaseId: '1' }, 60)?.getTime(), clock.now() + 60_000, 'the oldest was forgotten');
    await cache.of({ leaseId: '1' }, signal());
    assert.deepEqual(lookups, ['1']);
  });
});
