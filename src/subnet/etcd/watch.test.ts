/**
 * EtcdSubnetManager.watchLeases over the in-memory etcd, on node:test's mock timers (setTimeout
 * and Date) with Math.random fixed so the backoff is exact: events and expiries, the re-list after
 * compaction, outages (one WARN, retries at debug, one INFO when restored), streams that end or
 * are canceled, unreadable entries, abort.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../../config/index.ts';
import { IPAddress } from '../../ip/index.ts';
import { describeLease, encodeLeaseAttrs, type LeaseAttrs } from '../../lease/index.ts';
import { createMemoryLogger } from '../../log/index.ts';
import type { WatchResult } from '../manager.ts';
import { EtcdSubnetManager } from './manager.ts';
import { MemoryEtcd, MemoryRegistry } from './memory-registry.ts';
import type { WatchBatch } from './registry.ts';

const T0 = Date.UTC(2025, 0, 1);
const S = '/coreos.com/network/subnets/';
const config = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } }));
const attrs = (n: number): LeaseAttrs => ({ publicIP: IPAddress.parse(`192.0.2.${n}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `aa:bb:cc:00:00:0${n}` } });
const REFUSED = 'connection refused (is etcd running and listening there?)';

/** Lets every promise chain and pending callback run (setImmediate is not mocked). */
async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function setup(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  t.mock.method(Math, 'random', () => 0.5); // no backoff jitter
  const etcd = new MemoryEtcd({ now: () => Date.now() });
  const log = createMemoryLogger();
  const manager = (registry: MemoryRegistry = etcd.client()): EtcdSubnetManager =>
    new EtcdSubnetManager({ endpoints: etcd.endpoints, registry, now: () => Date.now(), random: () => 0, leaseTTLSeconds: 60, retry: { initialMs: 100, maxMs: 400 }, log });
  const join = async (n: number): Promise<string> => {
    const lease = await manager().acquireLease({ config, attrs: attrs(n), signal: AbortSignal.timeout(10_000) });
    return `${S}${lease.subnet?.ip.toString()}-24`;
  };
  const ac = new AbortController();
  t.after(() => ac.abort());
  const watch = (m: EtcdSubnetManager = manager()): AsyncIterator<WatchResult> => m.watchLeases(ac.signal)[Symbol.asyncIterator]();
  const msgs = (level: string): string[] => log.lines.filter((l) => l.level === level).map((l) => l.msg);
  /** Advances the mocked clock (firing due timers) with everything pending settled before and after. */
  const tick = async (ms: number): Promise<void> => {
    await flush();
    t.mock.timers.tick(ms);
    await flush();
  };
  return { etcd, log, manager, join, watch, ac, msgs, tick };
}

const exp = (d: Date | undefined): string => (d ? new Date(d.getTime() - T0).getTime().toString() : 'none');
function describeResult(r: IteratorResult<WatchResult>): string[] {
  if (r.done) return ['(ended)'];
  const v = r.value;
  if (v.kind === 'snapshot') return ['snapshot', ...v.leases.map((l) => `${describeLease(l)} exp=${exp(l.expiration)}`)];
  return v.events.map((e) => `${e.type} ${describeLease(e.lease)} ${JSON.stringify(e.lease.attrs.backendData ?? null)} exp=${exp(e.lease.expiration)}`);
}

describe('etcd lease watch: events', () => {
  it('starts with a snapshot, then reports puts, deletes and expiries with when the lease ends', async (t) => {
    const { etcd, join, watch, tick } = setup(t);
    const b = await join(2);
    etcd.put(`${S}10.5.50.0-24`, encodeLeaseAttrs(attrs(5)));
    const it = watch();
    assert.deepEqual(describeResult(await it.next()), ['snapshot', '10.5.1.0/24 via 192.0.2.2 exp=60000', '10.5.50.0/24 via 192.0.2.5 exp=none']);

    const c = await join(3);
    const cLease = etcd.read(c)?.leaseId;
    assert.deepEqual(describeResult(await it.next()), ['added 10.5.2.0/24 via 192.0.2.3 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:03"} exp=60000']);
    etcd.delete(c);
    assert.deepEqual(describeResult(await it.next()), ['removed 10.5.2.0/24 via 192.0.2.3 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:03"} exp=0'], 'deleted now, with the attributes the data plane must remove');
    etcd.delete(`${S}10.5.50.0-24`);
    assert.deepEqual(describeResult(await it.next()), ['removed 10.5.50.0/24 via 192.0.2.5 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:05"} exp=none'], 'a reservation has no expiry');

    const bLease = etcd.read(b)?.leaseId;
    await tick(59_999);
    assert.deepEqual(etcd.expireDue(), []);
    await tick(1);
    assert.deepEqual(etcd.expireDue(), [bLease, cLease], "b's lease and the one c's deleted key hung on");
    assert.deepEqual(describeResult(await it.next()), ['removed 10.5.1.0/24 via 192.0.2.2 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:02"} exp=60000'], 'expired at its TTL');
  });

  it('warns once about an unreadable entry however often it is re-listed, and again when it changes', async (t) => {
    const { etcd, watch, msgs, tick } = setup(t);
    const key = `${S}10.5.9.0-24`;
    etcd.put(key, '{"PublicIP":"not an address"}');
    const it = watch();
    assert.deepEqual(describeResult(await it.next()), ['snapshot']);
    const unreadable = `ignoring unreadable entry ${key}; its subnet stays taken: etcd key ${key}: PublicIP "not an address" is not an IPv4 address`;
    assert.deepEqual(msgs('warn'), [unreadable]);

    const relisted = it.next();
    await flush();
    etcd.endWatches();
    await tick(100);
    assert.deepEqual(describeResult(await relisted), ['snapshot']);
    assert.deepEqual(msgs('warn'), [unreadable, 'lease watch ended unexpectedly; re-listing in 100 ms']);

    const next = it.next();
    await flush();
    etcd.put(key, '{"PublicIP":"not an address"}');
    await flush();
    assert.deepEqual(msgs('warn'), [unreadable, 'lease watch ended unexpectedly; re-listing in 100 ms', unreadable], 'a new revision is a new problem');
    etcd.put(`${S}10.5.8.0-24`, encodeLeaseAttrs(attrs(8)));
    assert.deepEqual(describeResult(await next), ['added 10.5.8.0/24 via 192.0.2.8 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:08"} exp=none']);
  });
});

describe('etcd lease watch: recovery', () => {
  it('re-lists at once when the revision it needs was compacted away: no lost or phantom peer', async (t) => {
    const { etcd, join, watch, manager, msgs, log } = setup(t);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let gated = true;
    class Gated extends MemoryRegistry {
      override watch(prefix: string, from: string, s: AbortSignal): AsyncIterable<WatchBatch> {
        const inner = (): AsyncIterable<WatchBatch> => super.watch(prefix, from, s);
        const wait = gated;
        gated = false;
        return (async function* () {
          if (wait) await gate;
          yield* inner();
        })();
      }
    }
    await join(2);
    const c = await join(3);
    const it = watch(manager(new Gated(etcd)));
    assert.deepEqual(describeResult(await it.next()), ['snapshot', '10.5.1.0/24 via 192.0.2.2 exp=60000', '10.5.2.0/24 via 192.0.2.3 exp=60000']);
    const listedAt = BigInt(etcd.revision);

    etcd.delete(c);
    await join(4);
    etcd.compact();
    open();
    assert.deepEqual(describeResult(await it.next()), ['snapshot', '10.5.1.0/24 via 192.0.2.2 exp=60000', '10.5.2.0/24 via 192.0.2.4 exp=60000']);
    assert.deepEqual(msgs('info').filter((m) => m.startsWith('etcd compacted')), [
      `etcd compacted revision ${listedAt + 1n} away (oldest kept: ${etcd.compactRevision}); re-listing ${S}`,
    ]);
    assert.deepEqual(msgs('warn'), [], 'compaction is routine, not a warning');
    assert.ok(!log.lines.some((l) => l.msg.includes('restored')), 'and no outage to recover from');

    await join(5);
    assert.deepEqual(describeResult(await it.next()), ['added 10.5.3.0/24 via 192.0.2.5 {"VNI":1,"VtepMAC":"aa:bb:cc:00:00:05"} exp=60000'], 'it keeps watching');
  });

  it('rides out an outage with one WARN, retries at debug, and one INFO when the watch is back; again for the next outage', async (t) => {
    const { etcd, join, watch, msgs, tick } = setup(t);
    await join(2);
    const it = watch();
    assert.equal((await it.next()).value?.kind, 'snapshot');
    const from = (BigInt(etcd.revision) + 1n).toString();

    const back = it.next();
    await flush();
    etcd.setOutage(true);
    await tick(100);
    await tick(200);
    await tick(400);
    etcd.put(`${S}10.5.60.0-24`, encodeLeaseAttrs(attrs(6))); // written meanwhile by an operator
    etcd.setOutage(false);
    await tick(400);
    // A peer's expiry is shown as the latest it can be (a full TTL from the listing), never looked up.
    assert.deepEqual(describeResult(await back), ['snapshot', '10.5.1.0/24 via 192.0.2.2 exp=61100', '10.5.60.0/24 via 192.0.2.6 exp=none']);

    const broke = `lease watch broke; re-listing in 100 ms: cannot reach etcd at memory://etcd (watch ${S} from revision ${from}): the connection was dropped`;
    assert.deepEqual(msgs('warn'), [broke]);
    const retry = (ms: number): string => `cannot list leases under ${S}; retrying in ${ms} ms: cannot reach etcd at memory://etcd (list ${S}): ${REFUSED}`;
    assert.deepEqual(msgs('debug').filter((m) => m.startsWith('cannot list')), [retry(200), retry(400), retry(400)]);
    assert.deepEqual(msgs('info').filter((m) => m.includes('restored')), [`watch on ${S} restored after 1.1 s (re-listed 2 leases)`]);

    const from2 = (BigInt(etcd.revision) + 1n).toString();
    const again = it.next();
    await flush();
    etcd.setOutage(true);
    await flush();
    etcd.setOutage(false);
    await tick(100);
    assert.equal((await again).value?.kind, 'snapshot');
    assert.deepEqual(msgs('warn'), [broke, `lease watch broke; re-listing in 100 ms: cannot reach etcd at memory://etcd (watch ${S} from revision ${from2}): the connection was dropped`], 'the backoff starts afresh');
    assert.deepEqual(msgs('info').filter((m) => m.includes('restored')), [`watch on ${S} restored after 1.1 s (re-listed 2 leases)`, `watch on ${S} restored after 0.1 s (re-listed 2 leases)`]);
  });

  it('tells onWatchState when the watch is connected, when it breaks, and when it is back', async (t) => {
    const { etcd, ac } = setup(t);
    const states: boolean[] = [];
    const m = new EtcdSubnetManager({ endpoints: etcd.endpoints, registry: etcd.client(), now: () => Date.now(), retry: { initialMs: 100, maxMs: 400 }, onWatchState: (up) => states.push(up) });
    const it = m.watchLeases(ac.signal)[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.kind, 'snapshot');
    assert.deepEqual(states, [true]);
    const back = it.next();
    await flush();
    etcd.setOutage(true);
    await flush();
    t.mock.timers.tick(100);
    await flush();
    assert.deepEqual(states.slice(0, 2), [true, false], 'down while etcd is away');
    etcd.setOutage(false);
    t.mock.timers.tick(400);
    await flush();
    assert.equal((await back).value?.kind, 'snapshot');
    assert.equal(states.at(-1), true, 'up again once it listed');
    assert.ok(!states.slice(1, -1).includes(true), JSON.stringify(states));
  });

  it('says once that it cannot list when etcd is down from the start, and starts when it is back', async (t) => {
    const { etcd, join, watch, msgs, tick } = setup(t);
    await join(2);
    etcd.setOutage(true);
    const it = watch();
    const first = it.next();
    await tick(100);
    await tick(200);
    etcd.setOutage(false);
    await tick(400);
    assert.deepEqual(describeResult(await first), ['snapshot', '10.5.1.0/24 via 192.0.2.2 exp=60700']);
    const failed = (ms: number): string => `cannot list leases under ${S}; retrying in ${ms} ms: cannot reach etcd at memory://etcd (list ${S}): ${REFUSED}`;
    assert.deepEqual(msgs('warn'), [failed(100)]);
    assert.deepEqual(msgs('debug').filter((m) => m.startsWith('cannot list')), [failed(200), failed(400)]);
    assert.deepEqual(msgs('info').filter((m) => m.includes('restored')), [`watch on ${S} restored after 0.7 s (re-listed 1 lease)`]);
  });

  it('re-lists after a pause when etcd cancels the watch', async (t) => {
    const { etcd, join, watch, msgs, tick } = setup(t);
    await join(2);
    const it = watch();
    assert.equal((await it.next()).value?.kind, 'snapshot');
    const next = it.next();
    await flush();
    etcd.cancelWatches('permission denied');
    await tick(100);
    assert.equal((await next).value?.kind, 'snapshot');
    assert.deepEqual(msgs('warn'), [`lease watch broke; re-listing in 100 ms: etcd canceled the watch on ${S}: permission denied`]);
    assert.deepEqual(msgs('info').filter((m) => m.includes('restored')), [`watch on ${S} restored after 0.1 s (re-listed 1 lease)`]);
  });

  it('ends without an error when aborted while waiting to retry', async (t) => {
    const { etcd, join, watch, ac, log } = setup(t);
    await join(2);
    const it = watch();
    assert.equal((await it.next()).value?.kind, 'snapshot');
    const next = it.next();
    await flush();
    etcd.setOutage(true);
    await flush();
    const lines = log.lines.length;
    ac.abort();
    assert.deepEqual(await next, { done: true, value: undefined });
    await flush();
    assert.equal(log.lines.length, lines, 'nothing more to say');
  });
});
