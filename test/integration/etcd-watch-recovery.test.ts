/**
 * What an operator reads while etcd misbehaves, against a real etcd on loopback (no root):
 * one WARN when the lease watch breaks, an INFO line when it is back, no client internals in
 * the messages; and a peer whose value turns into garbage is gone for routing until it is valid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describeError } from '../../src/errors/index.ts';
import { LeaseWatcher, describeLease } from '../../src/lease/index.ts';
import { createMemoryLogger } from '../../src/log/index.ts';
import { EtcdSubnetManager } from '../../src/subnet/etcd/index.ts';
import { skipUnlessEtcd, etcdctl, startEtcd, type EtcdHandle } from '../harness/etcd.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessEtcd('etcd watch recovery tests');
const PEER = '{"PublicIP":"192.168.50.12","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:02"}}';

describe('etcd lease watch: outages and garbage, as the operator sees them', { skip }, () => {
  let etcd: EtcdHandle;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });

  it('treats a peer whose value became garbage as gone, and as a peer again once valid', async () => {
    const prefix = `/flw-${randomBytes(4).toString('hex')}/network`;
    const log = createMemoryLogger();
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, log });
    const ac = new AbortController();
    const watcher = new LeaseWatcher();
    const peers = (): string[] => watcher.peers.map(describeLease);
    const key = `${prefix}/subnets/10.244.2.0-24`;
    await etcdctl(etcd.endpoint, ['put', key, PEER]);
    const done = (async () => {
      for await (const r of m.watchLeases(ac.signal)) {
        if (r.kind === 'snapshot') watcher.reset(r.leases);
        else watcher.update(r.events);
      }
    })();
    try {
      await waitFor('the peer', () => peers().length === 1, 15_000);
      await etcdctl(etcd.endpoint, ['put', key, '{"PublicIP":']);
      await waitFor('the garbage peer to be dropped', () => peers().length === 0, 15_000);
      assert.equal(log.lines.filter((l) => l.level === 'warn' && l.msg.startsWith(`ignoring unreadable entry ${key}; its subnet stays taken: `)).length, 1);
      await etcdctl(etcd.endpoint, ['put', key, PEER]);
      await waitFor('the peer to come back', () => peers().length === 1, 15_000);
    } finally {
      ac.abort();
      await done.catch(() => undefined);
      await m.close();
    }
  });

  it('one WARN per outage, an INFO line when the watch is back, and no client internals', async () => {
    const prefix = `/flw-${randomBytes(4).toString('hex')}/network`;
    const log = createMemoryLogger();
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, log, retry: { initialMs: 100, maxMs: 400 }, requestTimeoutMs: 1000 });
    const ac = new AbortController();
    let snapshots = 0;
    const done = (async () => {
      for await (const r of m.watchLeases(ac.signal)) if (r.kind === 'snapshot') snapshots++;
    })();
    try {
      await waitFor('the first listing', () => snapshots === 1, 15_000);
      await etcd.halt();
      await waitFor('the outage to be noticed', () => log.lines.some((l) => l.level === 'warn'), 30_000);
      await new Promise((r) => setTimeout(r, 3000));
      await etcd.resume();
      await waitFor('the restored line', () => log.lines.some((l) => l.msg.startsWith(`watch on ${prefix}/subnets/ restored after `)), 60_000);
      const warns = log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
      assert.equal(warns.length, 1, warns.join('\n'));
      assert.doesNotMatch(warns[0] ?? '', /circuit breaker|\d+ UNAVAILABLE/, warns[0]);
      assert.match(log.lines.find((l) => l.msg.includes('restored after'))?.msg ?? '', /restored after \d+(\.\d)? s \(re-listed 0 leases\)$/);
    } finally {
      ac.abort();
      await done.catch(() => undefined);
      await m.close();
    }
  });

  it('an unreachable etcd is said once, in plain words', async () => {
    const m = new EtcdSubnetManager({ endpoints: ['http://127.0.0.1:9'], prefix: '/flw/network', requestTimeoutMs: 1000 });
    try {
      const err = await m.getNetworkConfig(AbortSignal.timeout(15_000)).then(
        () => assert.fail('etcd on port 9 answered'),
        (e: unknown) => e,
      );
      const text = describeError(err);
      assert.match(text, /^cannot reach etcd at http:\/\/127\.0\.0\.1:9 \(.*\): /);
      assert.doesNotMatch(text, /circuit breaker|\d+ UNAVAILABLE|(.{12,}).*\1/);
    } finally {
      await m.close();
    }
  });
});
