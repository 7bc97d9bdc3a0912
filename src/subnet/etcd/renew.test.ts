/**
 * EtcdSubnetManager.renewLease over the in-memory etcd with a manual clock: a fresh etcd lease
 * each time, repairs of what someone else changed, a lost lease, a key that keeps changing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../../config/index.ts';
import { LeaseError } from '../../errors/index.ts';
import { IPAddress } from '../../ip/index.ts';
import { encodeLeaseAttrs, type Lease, type LeaseAttrs } from '../../lease/index.ts';
import { createMemoryLogger } from '../../log/index.ts';
import { EtcdSubnetManager } from './manager.ts';
import { ManualClock, MemoryEtcd, MemoryRegistry } from './memory-registry.ts';
import type { PutOptions } from './registry.ts';

const KEY = '/coreos.com/network/subnets/10.5.1.0-24';
const config = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } }));
const attrs = (ip = '192.0.2.1', mac = 'aa:bb:cc:00:00:01'): LeaseAttrs => ({ publicIP: IPAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } });
const MINE = encodeLeaseAttrs(attrs());
const signal = (): AbortSignal => AbortSignal.timeout(10_000);

async function setup(registry?: (etcd: MemoryEtcd) => MemoryRegistry): Promise<{ clock: ManualClock; etcd: MemoryEtcd; m: EtcdSubnetManager; lease: Lease; msgs(level: string): string[]; log: ReturnType<typeof createMemoryLogger> }> {
  const clock = new ManualClock();
  const etcd = new MemoryEtcd({ now: clock.now });
  const log = createMemoryLogger();
  const m = new EtcdSubnetManager({ endpoints: etcd.endpoints, registry: registry?.(etcd) ?? etcd.client(), now: clock.now, random: () => 0, leaseTTLSeconds: 60, log });
  const lease = await m.acquireLease({ config, attrs: attrs(), signal: signal() });
  assert.equal(lease.subnet?.toString(), '10.5.1.0/24');
  const msgs = (level: string): string[] => log.lines.filter((l) => l.level === level).map((l) => l.msg);
  return { clock, etcd, m, lease, msgs, log };
}

describe('etcd renew', () => {
  it('puts the same value on a fresh etcd lease a full TTL from now and revokes the old one', async () => {
    const { clock, etcd, m, lease, log } = await setup();
    const oldId = etcd.read(KEY)?.leaseId;
    clock.advance(30_000);
    const renewed = await m.renewLease(lease, signal());
    assert.equal(renewed.expiration?.getTime(), clock.now() + 60_000);
    const kv = etcd.read(KEY);
    assert.equal(kv?.value, MINE);
    assert.notEqual(kv?.leaseId, oldId);
    assert.deepEqual(etcd.leaseIds(), [kv?.leaseId]);
    assert.equal(renewed.revision, kv?.modRevision);
    const line = log.lines.at(-1);
    assert.equal(line?.level, 'debug');
    assert.equal(line?.msg, `renewed lease ${KEY}`);
    assert.deepEqual(line?.fields, { key: KEY, expires: new Date(clock.now() + 60_000).toISOString() });

    clock.advance(59_000);
    etcd.expireDue();
    assert.equal(etcd.read(KEY)?.value, MINE, 'the renewed lease lives its full TTL');
  });

  it('re-creates a lease that expired while the node could not renew it', async () => {
    const { clock, etcd, m, lease, msgs } = await setup();
    clock.advance(60_000);
    const back = await m.renewLease(lease, signal());
    assert.equal(back.subnet?.toString(), '10.5.1.0/24');
    assert.equal(etcd.read(KEY)?.value, MINE);
    assert.equal(back.expiration?.getTime(), clock.now() + 60_000);
    assert.deepEqual(msgs('warn'), [`lease ${KEY} was gone from etcd (deleted, or expired while this node could not renew it); re-created it for the same subnet`]);
  });

  it("writes this node's value back over an unreadable one", async () => {
    const { etcd, m, lease, msgs } = await setup();
    etcd.put(KEY, '{"PublicIP":');
    let parseError = '';
    try {
      JSON.parse('{"PublicIP":');
    } catch (err) {
      parseError = (err as Error).message;
    }
    await m.renewLease(lease, signal());
    assert.equal(etcd.read(KEY)?.value, MINE);
    assert.notEqual(etcd.read(KEY)?.leaseId, '0', 'on an etcd lease again, not left a reservation');
    assert.deepEqual(msgs('warn'), [`lease ${KEY} held an unreadable value (etcd key ${KEY}: lease value is not JSON (${parseError})); wrote this node's value back`]);
  });

  it('writes its value back over another value of this node (same public IP)', async () => {
    const { etcd, m, lease, msgs } = await setup();
    etcd.put(KEY, encodeLeaseAttrs(attrs('192.0.2.1', 'aa:bb:cc:00:00:99')), etcd.read(KEY)?.leaseId);
    await m.renewLease(lease, signal());
    assert.equal(etcd.read(KEY)?.value, MINE);
    assert.deepEqual(msgs('warn'), [`lease ${KEY} held another value for this node; wrote this node's value back`]);
  });

  it('keeps a lease an operator turned into a reservation as one: no etcd lease, no expiry, said once', async () => {
    const { etcd, m, lease, msgs } = await setup();
    etcd.put(KEY, MINE);
    const revision = etcd.revision;
    const pinned = await m.renewLease(lease, signal());
    assert.equal(pinned.expiration, undefined);
    assert.equal(pinned.revision, revision);
    assert.equal(etcd.revision, revision, 'nothing written');
    assert.equal(etcd.read(KEY)?.leaseId, '0');
    await m.renewLease(pinned, signal());
    assert.deepEqual(msgs('info').filter((x) => x.includes('reservation')), [`lease ${KEY} is now a reservation (no expiry)`]);
  });

  it('fails with E_LEASE_LOST when another node holds the key, leaving its value alone', async () => {
    const { etcd, m, lease } = await setup();
    const theirs = encodeLeaseAttrs(attrs('192.0.2.99'));
    etcd.put(KEY, theirs);
    await assert.rejects(m.renewLease(lease, signal()), (err: unknown) => {
      assert.ok(err instanceof LeaseError);
      assert.equal(err.code, 'E_LEASE_LOST');
      assert.equal(err.message, `lease ${KEY} is now held by node 192.0.2.99, not by this node: another node took this subnet`);
      assert.equal(
        err.hint,
        'its lease was deleted or expired while this node held it, and another node leased the subnet; flanneld stops rather than route a subnet another node owns. Start flanneld again to lease a new subnet, then re-create the pods on this node (they keep addresses of the old subnet)',
      );
      return true;
    });
    assert.equal(etcd.read(KEY)?.value, theirs);
  });

  it('fails with E_LEASE_RACE when the key changes under every attempt, revoking every etcd lease it granted', async () => {
    let writes = 0;
    class Busy extends MemoryRegistry {
      override async putIf(key: string, value: string, options: PutOptions, s: AbortSignal) {
        // Another process rewrites the key between our read and our write.
        const kv = this.etcd.read(key);
        if (kv && !('absent' in options.expect)) {
          writes++;
          this.etcd.put(key, kv.value, kv.leaseId === '0' ? undefined : kv.leaseId);
        }
        return await super.putIf(key, value, options, s);
      }
    }
    const { etcd, m, lease } = await setup((e) => new Busy(e));
    const keyLease = etcd.read(KEY)?.leaseId;
    await assert.rejects(m.renewLease(lease, signal()), (err: unknown) => {
      assert.ok(err instanceof LeaseError);
      assert.equal(err.code, 'E_LEASE_RACE');
      assert.equal(err.message, `could not renew lease ${KEY}: it kept changing under us`);
      assert.equal(err.hint, `look for another process writing ${KEY}; flanneld retries`);
      return true;
    });
    assert.equal(writes, 10);
    assert.deepEqual(etcd.leaseIds(), [keyLease], 'only the etcd lease the key hangs on is left');
  });
});
