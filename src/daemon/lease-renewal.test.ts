import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreError, LeaseError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import type { Lease } from '../lease/index.ts';
import { createMemoryLogger } from '../log/index.ts';
import type { SubnetManager } from '../subnet/index.ts';
import { runLeaseRenewal } from './lease-renewal.ts';
import type { OwnLeaseChange } from './own-lease-tap.ts';

const T0 = Date.parse('2026-12-03T12:00:00Z');
const lease = (expiresInMs: number): Lease => ({
  subnet: Cidr.parse('10.244.7.0/24'),
  attrs: { publicIP: IPAddress.parse('192.168.50.11'), backendType: 'vxlan' },
  expiration: new Date(Date.now() + expiresInMs),
});

/** A manager whose renewLease answers from a script; only what the keeper calls. */
function scriptedSubnets(answers: Array<Lease | Error>): SubnetManager & { calls: number } {
  const m = {
    name: 'scripted',
    calls: 0,
    async renewLease(): Promise<Lease> {
      const a = answers[Math.min(m.calls++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a as Lease;
    },
  };
  return m as unknown as SubnetManager & { calls: number };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('runLeaseRenewal (the lease keeper)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  function start(subnets: SubnetManager, own: Lease): { report: (c: OwnLeaseChange) => void; done: Promise<void>; ac: AbortController; log: ReturnType<typeof createMemoryLogger> } {
    const log = createMemoryLogger();
    const ac = new AbortController();
    let report!: (c: OwnLeaseChange) => void;
    const done = runLeaseRenewal({ subnets, lease: own, marginMs: 60 * 60_000, log, signal: ac.signal, follow: (_l, onChange) => (report = onChange) });
    return { report, done, ac, log };
  }

  it('renews at once when the lease disappears, without waiting for the timer', async () => {
    const subnets = scriptedSubnets([lease(24 * 3600_000)]);
    const k = start(subnets, lease(24 * 3600_000));
    await flush();
    assert.equal(subnets.calls, 0, 'nothing is due yet');
    k.report({ kind: 'missing' });
    await flush();
    assert.equal(subnets.calls, 1);
    assert.deepEqual(
      k.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg),
      [
        "this node's lease 10.244.7.0/24 was changed by someone else: it disappeared from the datastore; checking it and taking it back",
        "re-acquired this node's lease 10.244.7.0/24 (same subnet); peers route to it again",
      ],
    );
    k.ac.abort();
    await k.done;
  });

  it('keeps trying to repair a disturbed lease while the datastore fails', async () => {
    const down = new DatastoreError('E_ETCD_UNAVAILABLE', 'cannot reach etcd at http://192.168.50.2:2379');
    const subnets = scriptedSubnets([down, down, lease(24 * 3600_000)]);
    const k = start(subnets, lease(24 * 3600_000));
    await flush();
    k.report({ kind: 'missing' });
    await flush();
    assert.equal(subnets.calls, 1);
    mock.timers.tick(1000);
    await flush();
    assert.equal(subnets.calls, 2);
    mock.timers.tick(2000);
    await flush();
    assert.equal(subnets.calls, 3);
    assert.deepEqual(
      k.log.lines.filter((l) => l.level === 'error').map((l) => l.msg),
      [
        'failed to renew lease, retrying in 1s: cannot reach etcd at http://192.168.50.2:2379',
        'failed to renew lease, retrying in 2s: cannot reach etcd at http://192.168.50.2:2379',
      ],
    );
    assert.equal(k.log.lines.at(-1)?.msg, "re-acquired this node's lease 10.244.7.0/24 (same subnet); peers route to it again");
    k.ac.abort();
    await k.done;
  });

  it('ends with E_LEASE_LOST when another node holds the subnet now', async () => {
    const lost = new LeaseError('E_LEASE_LOST', 'lease /coreos.com/network/subnets/10.244.7.0-24 is now held by node 192.168.50.12, not by this node: another node took this subnet');
    const subnets = scriptedSubnets([lost]);
    const other = { ...lease(24 * 3600_000), attrs: { publicIP: IPAddress.parse('192.168.50.12'), backendType: 'vxlan' } };
    const k = start(subnets, lease(24 * 3600_000));
    await flush();
    k.report({ kind: 'changed', lease: other });
    await assert.rejects(k.done, lost);
    assert.equal(
      k.log.lines.find((l) => l.level === 'warn')?.msg,
      "this node's lease 10.244.7.0/24 was changed by someone else: it was rewritten (now PublicIP 192.168.50.12, backend vxlan); checking it and taking it back",
    );
  });

  it('renews `margin` before expiry on its own', async () => {
    const subnets = scriptedSubnets([lease(3 * 3600_000)]);
    const k = start(subnets, lease(2 * 3600_000));
    await flush();
    mock.timers.tick(3600_000 - 1);
    await flush();
    assert.equal(subnets.calls, 0);
    mock.timers.tick(1);
    await flush();
    assert.equal(subnets.calls, 1);
    assert.equal(k.log.lines.at(-1)?.msg, `lease renewed, expires ${new Date(T0 + 3 * 3600_000).toISOString()}`);
    k.ac.abort();
    await k.done;
  });
});
