import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreError } from '../../errors/index.ts';
import { E_ETCD_COMPACTED, E_ETCD_REQUEST, E_ETCD_UNAVAILABLE, E_ETCD_WATCH } from './errors.ts';
import { ManualClock, MemoryEtcd, type MemoryRegistry } from './memory-registry.ts';
import type { WatchBatch } from './registry.ts';

const signal = (): AbortSignal => new AbortController().signal;

/** Reads a watch one batch at a time. */
function reader(r: MemoryRegistry, prefix: string, from: string, s = signal()): { next(): Promise<IteratorResult<WatchBatch>> } {
  const it = r.watch(prefix, from, s)[Symbol.asyncIterator]();
  return { next: () => it.next() };
}
const summary = (b: WatchBatch): string[] => b.events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision} v${e.kv.version} ${JSON.stringify(e.kv.value)} prev=${e.prev ? `${e.prev.value}@${e.prev.modRevision}` : '-'}`);

/** Lets pending watches open (they start on their first next(), after a turn of the microtask queue). */
async function untilOpen(etcd: MemoryEtcd, n: number): Promise<void> {
  for (let i = 0; i < 100 && etcd.openWatches !== n; i++) await null;
  assert.equal(etcd.openWatches, n, 'open watches');
}

const rejectsWith = (code: string, message: string) => (err: unknown) => {
  assert.ok(err instanceof DatastoreError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.message, message);
  return true;
};

describe('MemoryEtcd: keys, revisions and conditional writes', () => {
  it('counts revisions per write, versions per key, and lists sorted by key', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    assert.equal(etcd.revision, '1', 'an empty etcd is at revision 1');
    assert.equal((await r.putIf('/p/b', 'one', { expect: { absent: true } }, signal())).revision, '2');
    etcd.put('/p/a', 'x');
    const third = await r.putIf('/p/b', 'two', { expect: { modRevision: '2' } }, signal());
    assert.deepEqual(third, { ok: true, revision: '4' });
    assert.deepEqual(await r.get('/p/b', signal()), { kv: { key: '/p/b', value: 'two', modRevision: '4', version: '2', leaseId: '0' }, revision: '4' });
    assert.deepEqual(await r.get('/p/none', signal()), { kv: undefined, revision: '4' });
    etcd.put('/q', 'elsewhere');
    const { kvs, revision } = await r.list('/p/', signal());
    assert.deepEqual(kvs.map((kv) => kv.key), ['/p/a', '/p/b']);
    assert.equal(revision, '5');
  });

  it('writes nothing when the expectation does not hold, and says the revision it saw', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    etcd.put('/k', 'v');
    assert.deepEqual(await r.putIf('/k', 'w', { expect: { absent: true } }, signal()), { ok: false, revision: '2' });
    assert.deepEqual(await r.putIf('/k', 'w', { expect: { modRevision: '1' } }, signal()), { ok: false, revision: '2' });
    assert.equal(await r.deleteIf('/k', { modRevision: '1' }, signal()), false);
    assert.equal(etcd.read('/k')?.value, 'v');
    assert.equal(etcd.revision, '2');
    assert.equal(await r.deleteIf('/k', { modRevision: '2' }, signal()), true);
    assert.equal(etcd.read('/k'), undefined);
    assert.equal(etcd.revision, '3');
    // As in etcd, a missing key has mod revision 0: the compare holds, nothing is deleted, no revision.
    assert.equal(await r.deleteIf('/k', { modRevision: '0' }, signal()), true);
    assert.equal(etcd.revision, '3');
  });
});

describe('MemoryEtcd: etcd leases on a clock', () => {
  it('expires a lease at its TTL, deleting its keys in one revision', async () => {
    const clock = new ManualClock();
    const etcd = new MemoryEtcd({ now: clock.now });
    const r = etcd.client();
    const { id, ttlSeconds } = await r.grantLease(30, signal());
    assert.equal(ttlSeconds, 30);
    await r.putIf('/s/a', 'A', { expect: { absent: true }, leaseId: id }, signal());
    await r.putIf('/s/b', 'B', { expect: { absent: true }, leaseId: id }, signal());
    etcd.put('/s/c', 'C');
    assert.equal((await r.get('/s/a', signal())).kv?.leaseId, id);
    const deleted = reader(r, '/s/', '0').next();

    clock.advance(10_500);
    assert.equal(await r.leaseTimeToLive(id, signal()), 19);
    clock.advance(19_499);
    assert.deepEqual(etcd.expireDue(), []);
    clock.advance(1);
    assert.deepEqual(etcd.expireDue(), [id]);
    assert.deepEqual(etcd.keys('/s/'), ['/s/c']);
    assert.equal(await r.leaseTimeToLive(id, signal()), undefined);
    assert.deepEqual(summary((await deleted).value as WatchBatch), ['delete /s/a@5 v0 "" prev=A@2', 'delete /s/b@5 v0 "" prev=B@3']);
  });

  it('expires on the next call by itself, and runs on mock.timers as well', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const etcd = new MemoryEtcd({ now: () => Date.now() });
    const r = etcd.client();
    const { id } = await r.grantLease(5, signal());
    await r.putIf('/k', 'v', { expect: { absent: true }, leaseId: id }, signal());
    t.mock.timers.tick(5000);
    assert.deepEqual(await r.get('/k', signal()), { kv: undefined, revision: '3' });
  });

  it('revokes a lease with its keys; an unknown lease is no error', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    const { id } = await r.grantLease(60, signal());
    await r.putIf('/k', 'v', { expect: { absent: true }, leaseId: id }, signal());
    await r.revokeLease(id, signal());
    assert.equal(etcd.read('/k'), undefined);
    assert.deepEqual(etcd.leaseIds(), []);
    await r.revokeLease(id, signal());
    await r.revokeLease('42', signal());
  });

  it('moves a key off its lease when it is put without one, so expiry leaves it alone', async () => {
    const clock = new ManualClock();
    const etcd = new MemoryEtcd({ now: clock.now });
    const r = etcd.client();
    const { id } = await r.grantLease(10, signal());
    await r.putIf('/k', 'leased', { expect: { absent: true }, leaseId: id }, signal());
    await r.putIf('/k', 'pinned', { expect: { modRevision: '2' } }, signal());
    clock.advance(10_000);
    assert.deepEqual(etcd.expireDue(), [id]);
    assert.deepEqual(etcd.read('/k'), { key: '/k', value: 'pinned', modRevision: '3', version: '2', leaseId: '0' });
  });

  it('refuses a put on a lease that does not exist, as etcd does, but only when the compare held', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    await assert.rejects(
      r.putIf('/k', 'v', { expect: { absent: true }, leaseId: '99' }, signal()),
      rejectsWith(E_ETCD_REQUEST, 'etcd request failed (put /k) at memory://etcd: etcdserver: requested lease not found'),
    );
    etcd.put('/k', 'there');
    assert.deepEqual(await r.putIf('/k', 'v', { expect: { absent: true }, leaseId: '99' }, signal()), { ok: false, revision: '2' });
  });
});

describe('MemoryEtcd: watches', () => {
  it('replays the kept history from a revision, then follows live writes under the prefix, with previous values', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    etcd.put('/p/a', '1');
    etcd.put('/other', 'x');
    etcd.put('/p/a', '2');
    const w = reader(r, '/p/', '2');
    assert.deepEqual(summary((await w.next()).value as WatchBatch), ['put /p/a@2 v1 "1" prev=-']);
    const second = (await w.next()).value as WatchBatch;
    assert.equal(second.revision, '4');
    assert.deepEqual(summary(second), ['put /p/a@4 v2 "2" prev=1@2']);
    etcd.delete('/p/a');
    etcd.put('/other', 'y');
    etcd.put('/p/b', '3');
    assert.deepEqual(summary((await w.next()).value as WatchBatch), ['delete /p/a@5 v0 "" prev=2@4']);
    assert.deepEqual(summary((await w.next()).value as WatchBatch), ['put /p/b@7 v1 "3" prev=-']);
  });

  it('refuses a revision that was compacted away, naming the oldest one kept', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    for (let i = 0; i < 4; i++) etcd.put('/p/k', String(i));
    etcd.compact('4');
    assert.equal(etcd.compactRevision, '4');
    await assert.rejects(reader(r, '/p/', '3').next(), rejectsWith(E_ETCD_COMPACTED, 'etcd compacted revision 3 away (oldest kept: 4); re-listing /p/'));
    assert.deepEqual(summary((await reader(r, '/p/', '4').next()).value as WatchBatch), ['put /p/k@4 v3 "2" prev=1@3']);
    assert.throws(() => etcd.compact('4'), /mvcc: required revision 4 has been compacted/);
    assert.throws(() => etcd.compact('9'), /mvcc: required revision 9 is a future revision \(current 5\)/);
  });

  it('breaks, cancels or ends open streams on request', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    const broken = reader(r, '/p/', '0');
    const canceled = reader(r, '/q/', '0');
    const pending = [broken.next(), canceled.next()];
    await untilOpen(etcd, 2);
    assert.equal(etcd.breakWatches(new DatastoreError(E_ETCD_WATCH, 'test break')), 2);
    await assert.rejects(pending[0] as Promise<unknown>, rejectsWith(E_ETCD_WATCH, 'test break'));
    await assert.rejects(pending[1] as Promise<unknown>, rejectsWith(E_ETCD_WATCH, 'test break'));

    const c = reader(r, '/p/', '0');
    const cNext = c.next();
    await untilOpen(etcd, 1);
    etcd.cancelWatches('permission denied');
    await assert.rejects(cNext, rejectsWith(E_ETCD_WATCH, 'etcd canceled the watch on /p/: permission denied'));

    const e = reader(r, '/p/', '0');
    const eNext = e.next();
    await untilOpen(etcd, 1);
    assert.equal(etcd.endWatches(), 1);
    assert.deepEqual(await eNext, { done: true, value: undefined });
    assert.equal(etcd.openWatches, 0);
  });

  it('ends a stream quietly when its signal aborts, and refuses to start on an aborted one', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    const ac = new AbortController();
    const w = reader(r, '/p/', '0', ac.signal);
    const next = w.next();
    await untilOpen(etcd, 1);
    ac.abort();
    assert.deepEqual(await next, { done: true, value: undefined });
    assert.equal(etcd.openWatches, 0);
    await assert.rejects(reader(r, '/p/', '0', ac.signal).next(), { name: 'AbortError' });
    await assert.rejects(r.get('/k', ac.signal), { name: 'AbortError' });
  });
});

describe('MemoryEtcd: outages and closed clients', () => {
  it('fails every call as an unreachable etcd while down, breaks open watches, and works again after', async () => {
    const etcd = new MemoryEtcd();
    const r = etcd.client();
    etcd.put('/p/k', 'v');
    const w = reader(r, '/p/', '3');
    const next = w.next();
    await untilOpen(etcd, 1);
    etcd.setOutage(true);
    await assert.rejects(next, rejectsWith(E_ETCD_UNAVAILABLE, 'cannot reach etcd at memory://etcd (watch /p/ from revision 3): the connection was dropped'));
    const refused = (what: string) => rejectsWith(E_ETCD_UNAVAILABLE, `cannot reach etcd at memory://etcd (${what}): connection refused (is etcd running and listening there?)`);
    await assert.rejects(r.get('/p/k', signal()), refused('get /p/k'));
    await assert.rejects(r.list('/p/', signal()), refused('list /p/'));
    await assert.rejects(r.putIf('/p/k', 'w', { expect: { absent: true } }, signal()), refused('put /p/k'));
    await assert.rejects(r.deleteIf('/p/k', { modRevision: '2' }, signal()), refused('delete /p/k'));
    await assert.rejects(r.grantLease(60, signal()), refused('grant a 60 s lease'));
    await assert.rejects(r.revokeLease('7', signal()), refused('revoke lease 7'));
    await assert.rejects(r.leaseTimeToLive('7', signal()), refused('time-to-live of lease 7'));
    await assert.rejects(reader(r, '/p/', '3').next(), refused('watch /p/ from revision 3'));
    etcd.setOutage(false);
    assert.equal((await r.get('/p/k', signal())).kv?.value, 'v');
  });

  it('close() is idempotent, fails later calls and breaks only its own watches', async () => {
    const etcd = new MemoryEtcd();
    const [mine, other] = [etcd.client(), etcd.client()];
    const a = reader(mine, '/p/', '0');
    const b = reader(other, '/p/', '0');
    const [na, nb] = [a.next(), b.next()];
    await untilOpen(etcd, 2);
    await mine.close();
    await mine.close();
    assert.equal(mine.closed, true);
    await assert.rejects(na, rejectsWith(E_ETCD_UNAVAILABLE, 'cannot reach etcd at memory://etcd (watch /p/ from revision 0): the client was closed'));
    await assert.rejects(mine.get('/p/k', signal()), rejectsWith(E_ETCD_UNAVAILABLE, 'cannot reach etcd at memory://etcd (get /p/k): the client was closed'));
    etcd.put('/p/k', 'still here');
    assert.deepEqual(summary((await nb).value as WatchBatch), ['put /p/k@2 v1 "still here" prev=-']);
  });

  it('lets concurrent callers interleave: both read before either writes', async () => {
    const etcd = new MemoryEtcd();
    const [x, y] = [etcd.client(), etcd.client()];
    const claim = async (r: MemoryRegistry, who: string): Promise<boolean> => {
      const { kv } = await r.get('/k', signal());
      if (kv) return false;
      return (await r.putIf('/k', who, { expect: { absent: true } }, signal())).ok;
    };
    assert.deepEqual(await Promise.all([claim(x, 'x'), claim(y, 'y')]), [true, false], 'the second writer loses the race its read did not see');
    assert.equal(etcd.read('/k')?.value, 'x');
  });

  it('a manual clock never goes back', () => {
    const clock = new ManualClock(0);
    clock.advance(5);
    assert.equal(clock.now(), 5);
    assert.throws(() => clock.advance(-1), /a clock only moves forward, not by -1 ms/);
  });
});
