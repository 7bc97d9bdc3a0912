/**
 * EtcdSubnetManager.acquireLease over the in-memory etcd: lost races, writes whose answer was
 * lost, reservations, the node's own old entries, subnet.env's previous subnet, unreadable
 * entries and the start-up undo log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UndoLog } from '../../async/index.ts';
import { parseNetworkConfig } from '../../config/index.ts';
import { DatastoreError, LeaseError } from '../../errors/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import { encodeLeaseAttrs, type LeaseAttrs } from '../../lease/index.ts';
import { createMemoryLogger } from '../../log/index.ts';
import { E_ETCD_UNAVAILABLE, unavailableError } from './errors.ts';
import { EtcdSubnetManager } from './manager.ts';
import { ManualClock, MemoryEtcd, MemoryRegistry } from './memory-registry.ts';
import type { PutOptions } from './registry.ts';

const S = '/coreos.com/network/subnets/';
const config = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } }));
const attrs = (n: number, mac = `aa:bb:cc:00:00:${String(n).padStart(2, '0')}`): LeaseAttrs => ({ publicIP: IPAddress.parse(`192.0.2.${n}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } });
const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const jsonError = (text: string): string => {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} is JSON`);
};

function setup(registry?: (etcd: MemoryEtcd) => MemoryRegistry) {
  const clock = new ManualClock();
  const etcd = new MemoryEtcd({ now: clock.now });
  const log = createMemoryLogger();
  const manager = (): EtcdSubnetManager =>
    new EtcdSubnetManager({ endpoints: etcd.endpoints, registry: registry?.(etcd) ?? etcd.client(), now: clock.now, random: () => 0, leaseTTLSeconds: 60, log });
  const msgs = (level: string): string[] => log.lines.filter((l) => l.level === level).map((l) => l.msg);
  return { clock, etcd, log, manager, msgs };
}

describe('etcd acquire: races', () => {
  it('retries on a fresh listing when another node wrote the chosen subnet first, revoking the lost etcd lease', async () => {
    let raced = false;
    class Racy extends MemoryRegistry {
      override async putIf(key: string, value: string, options: PutOptions, s: AbortSignal) {
        if (!raced) {
          raced = true;
          this.etcd.put(key, encodeLeaseAttrs(attrs(99)));
        }
        return await super.putIf(key, value, options, s);
      }
    }
    const { etcd, log, manager, msgs } = setup((e) => new Racy(e));
    const lease = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.2.0/24', 'the first free subnet after the one taken in the race');
    const retry = log.lines.find((l) => l.msg === 'another node wrote the subnet we chose first; trying again');
    assert.deepEqual(retry?.fields, { attempt: 1, of: 10 });
    assert.deepEqual(msgs('info'), ['another node wrote the subnet we chose first; trying again', 'acquired new subnet 10.5.2.0/24']);
    assert.deepEqual(etcd.keys(S), [`${S}10.5.1.0-24`, `${S}10.5.2.0-24`]);
    assert.equal(etcd.read(`${S}10.5.1.0-24`)?.value, encodeLeaseAttrs(attrs(99)), 'the winner is left alone');
    assert.deepEqual(etcd.leaseIds(), [etcd.read(`${S}10.5.2.0-24`)?.leaseId], 'only the etcd lease in use is left');
  });

  it('gives up after 10 lost races with E_LEASE_RACE, leaving no etcd lease behind', async () => {
    let puts = 0;
    class AlwaysLoses extends MemoryRegistry {
      override async putIf() {
        puts++;
        return { ok: false, revision: this.etcd.revision };
      }
    }
    const { etcd, msgs, manager } = setup((e) => new AlwaysLoses(e));
    await assert.rejects(manager().acquireLease({ config, attrs: attrs(1), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof LeaseError);
      assert.equal(err.code, 'E_LEASE_RACE');
      assert.equal(err.message, 'could not acquire a subnet in 10 attempts: other nodes took each chosen subnet first');
      assert.equal(err.hint, `unusual: look for many nodes starting at once with the same public IP, or a tool writing under ${S}; flanneld retries`);
      return true;
    });
    assert.equal(puts, 10);
    assert.equal(msgs('info').length, 10);
    assert.deepEqual(etcd.leaseIds(), []);
    assert.deepEqual(etcd.keys(S), []);
  });

  it('keeps a write that landed although its answer was lost (the client retried and saw its own write)', async () => {
    class LostAnswer extends MemoryRegistry {
      override async putIf(key: string, value: string, options: PutOptions, s: AbortSignal): Promise<{ ok: boolean; revision: string }> {
        await super.putIf(key, value, options, s);
        throw unavailableError(this.endpoints, `put ${key}`, new Error('the request timed out'));
      }
    }
    const { etcd, msgs, manager } = setup((e) => new LostAnswer(e));
    const lease = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.1.0/24');
    assert.equal(lease.revision, etcd.read(`${S}10.5.1.0-24`)?.modRevision);
    assert.deepEqual(msgs('info'), ['acquired new subnet 10.5.1.0/24'], 'no lost race');
    assert.deepEqual(etcd.leaseIds(), [etcd.read(`${S}10.5.1.0-24`)?.leaseId]);
  });

  it('fails with the datastore error when a write did not land, revoking its etcd lease', async () => {
    class Fails extends MemoryRegistry {
      override async putIf(key: string): Promise<{ ok: boolean; revision: string }> {
        throw unavailableError(this.endpoints, `put ${key}`, new Error('Connection dropped'));
      }
    }
    const { etcd, manager } = setup((e) => new Fails(e));
    await assert.rejects(manager().acquireLease({ config, attrs: attrs(1), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof DatastoreError);
      assert.equal(err.code, E_ETCD_UNAVAILABLE);
      assert.equal(err.message, `cannot reach etcd at memory://etcd (put ${S}10.5.1.0-24): the connection was dropped`);
      return true;
    });
    assert.deepEqual(etcd.leaseIds(), []);
    assert.deepEqual(etcd.keys(S), []);
  });
});

describe("etcd acquire: the node's own entries", () => {
  it('uses a reservation carrying its public IP: no expiry, no etcd lease, its value brought up to date once', async () => {
    const { etcd, msgs, manager } = setup();
    const key = `${S}10.5.77.0-24`;
    etcd.put(key, '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan"}');
    const lease = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.77.0/24');
    assert.equal(lease.expiration, undefined);
    assert.deepEqual(etcd.read(key), { key, value: encodeLeaseAttrs(attrs(1)), modRevision: '3', version: '2', leaseId: '0' });
    assert.equal(lease.revision, '3');
    assert.deepEqual(msgs('info'), [`using reservation ${key} for this node (no expiry)`]);

    const again = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(again.revision, '3', 'an up-to-date reservation is not written');
    assert.equal(etcd.revision, '3');
    assert.deepEqual(etcd.leaseIds(), []);
  });

  it('reuses its lease on a fresh etcd lease, revoking the old one', async () => {
    const { etcd, msgs, manager } = setup();
    const first = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    const key = `${S}10.5.1.0-24`;
    const oldId = etcd.read(key)?.leaseId;
    const again = await manager().acquireLease({ config, attrs: attrs(1, 'aa:bb:cc:00:00:ff'), signal: signal() });
    assert.equal(again.subnet?.toString(), first.subnet?.toString());
    const kv = etcd.read(key);
    assert.notEqual(kv?.leaseId, oldId);
    assert.deepEqual(etcd.leaseIds(), [kv?.leaseId]);
    assert.equal(kv?.value, encodeLeaseAttrs(attrs(1, 'aa:bb:cc:00:00:ff')));
    assert.equal(msgs('info').at(-1), `reusing lease ${key}: it carries this node's public IP`);
  });

  it('deletes its old lease outside the network, but leaves a reservation outside alone', async () => {
    const { etcd, msgs, manager } = setup();
    const m = manager();
    const grant = await etcd.client().grantLease(60, signal());
    etcd.put(`${S}10.9.1.0-24`, encodeLeaseAttrs(attrs(1)), grant.id);
    etcd.put(`${S}10.9.2.0-24`, encodeLeaseAttrs(attrs(1)));
    const lease = await m.acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.1.0/24');
    assert.deepEqual(etcd.keys(S), [`${S}10.5.1.0-24`, `${S}10.9.2.0-24`]);
    assert.ok(!etcd.leaseIds().includes(grant.id), `the old key's etcd lease ${grant.id} was not revoked: ${etcd.leaseIds().join(', ')}`);
    assert.equal(etcd.leaseIds().length, 1, 'only the new lease\'s etcd lease is left');
    assert.deepEqual(msgs('info'), [`deleted this node's old lease ${S}10.9.1.0-24: it is outside the configured network`, 'acquired new subnet 10.5.1.0/24']);
    assert.deepEqual(msgs('warn'), [`reservation ${S}10.9.2.0-24 carries this node's public IP but it is outside the configured network; leaving it alone`]);
  });

  it("gives up its lease overlapping the node's own external network, saying so", async () => {
    const { etcd, msgs, manager } = setup();
    await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    const hostNetworks = [{ cidr: Cidr.parse('10.5.1.0/24'), device: 'eth0', external: true }];
    const lease = await manager().acquireLease({ config, attrs: attrs(1), hostNetworks, signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.2.0/24');
    assert.deepEqual(etcd.keys(S), [`${S}10.5.2.0-24`]);
    assert.deepEqual(msgs('warn'), [`deleted this node's old lease ${S}10.5.1.0-24: it overlaps this node's own network 10.5.1.0/24 on eth0`]);
  });
});

describe("etcd acquire: subnet.env's previous subnet", () => {
  const previous = { v4: Cidr.parse('10.5.42.0/24') };

  it('takes it when nobody holds it', async () => {
    const { msgs, manager } = setup();
    const lease = await manager().acquireLease({ config, attrs: attrs(1), hints: { previous }, signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.42.0/24');
    assert.deepEqual(msgs('info'), ['acquired previous subnet (from subnet.env) 10.5.42.0/24']);
  });

  it('chooses another when another node holds it, or it is outside the network now', async () => {
    const { msgs, manager } = setup();
    await manager().acquireLease({ config, attrs: attrs(2), hints: { previous }, signal: signal() });
    const b = await manager().acquireLease({ config, attrs: attrs(1), hints: { previous }, signal: signal() });
    assert.equal(b.subnet?.toString(), '10.5.1.0/24');
    const c = await manager().acquireLease({ config, attrs: attrs(3), hints: { previous: { v4: Cidr.parse('10.9.0.0/24') } }, signal: signal() });
    assert.equal(c.subnet?.toString(), '10.5.2.0/24');
    assert.deepEqual(msgs('warn'), [
      'previous subnet 10.5.42.0/24 (from subnet.env) is now held by node 192.0.2.2; choosing another',
      'previous subnet 10.9.0.0/24 (from subnet.env) is not in the configured network any more; choosing another',
    ]);
  });
});

describe('etcd acquire: unreadable entries and the undo log', () => {
  it('warns about an unreadable entry and never hands out its subnet', async () => {
    const { msgs, manager, etcd } = setup();
    etcd.put(`${S}10.5.1.0-24`, 'garbage');
    etcd.put(`${S}garbage`, '{}');
    const lease = await manager().acquireLease({ config, attrs: attrs(1), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.5.2.0/24');
    assert.deepEqual(msgs('warn'), [
      `ignoring unreadable entry ${S}10.5.1.0-24; its subnet stays taken: etcd key ${S}10.5.1.0-24: lease value is not JSON (${jsonError('garbage')})`,
      `ignoring unreadable entry ${S}garbage; its subnet stays taken: key ${S}garbage is not a subnet key such as 10.5.52.0-24`,
    ]);
  });

  it('a failed start-up releases the lease it created, but not one renewed since', async () => {
    const { etcd, manager } = setup();
    const m = manager();
    const undo = new UndoLog();
    await m.acquireLease({ config, attrs: attrs(1), undo, signal: signal() });
    assert.deepEqual((await undo.unwind(signal())).undone, [`release lease ${S}10.5.1.0-24`]);
    assert.deepEqual(etcd.keys(S), []);
    assert.deepEqual(etcd.leaseIds(), [], 'its etcd lease is revoked too');

    const again = new UndoLog();
    const lease = await m.acquireLease({ config, attrs: attrs(1), undo: again, signal: signal() });
    await m.renewLease(lease, signal());
    await again.unwind(signal());
    assert.deepEqual(etcd.keys(S), [`${S}10.5.1.0-24`], 'renewed since: not ours to delete');
  });
});
