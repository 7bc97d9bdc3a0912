/**
 * What EtcdSubnetManager does when someone else changed this node's lease, or the node's own
 * networks fall inside the pool, against a real etcd on loopback (no root needed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { UndoLog } from '../../src/async/index.ts';
import { parseNetworkConfig, type NetworkConfig } from '../../src/config/index.ts';
import { Cidr, IPAddress } from '../../src/ip/index.ts';
import type { LeaseAttrs } from '../../src/lease/index.ts';
import { createMemoryLogger } from '../../src/log/index.ts';
import { EtcdSubnetManager } from '../../src/subnet/etcd/index.ts';
import { skipUnlessEtcd, etcdctl, startEtcd, type EtcdHandle } from '../harness/etcd.ts';

const skip = skipUnlessEtcd('etcd lease repair tests');

const attrs = (ip: string): LeaseAttrs => ({ publicIP: IPAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } });
const conf = (json: object): NetworkConfig => parseNetworkConfig(JSON.stringify({ Backend: { Type: 'vxlan' }, ...json }));
const newPrefix = (): string => `/flr-${randomBytes(4).toString('hex')}/network`;
const eth0 = [{ cidr: Cidr.parse('192.168.50.0/24'), device: 'eth0', external: true }];

describe('EtcdSubnetManager: the node\'s own networks and repairs of its lease', { skip }, () => {
  let etcd: EtcdHandle;
  const managers: EtcdSubnetManager[] = [];
  const manager = (prefix: string) => {
    const log = createMemoryLogger();
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, log });
    managers.push(m);
    return { m, log };
  };
  const get = async (key: string): Promise<string> => (await etcdctl(etcd.endpoint, ['get', key, '--print-value-only'])).trim();

  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    for (const m of managers) await m.close();
    await etcd?.stop();
  });

  it('never leases a subnet overlapping a network of the node, and says so when nothing else is left', async () => {
    const { m } = manager(newPrefix());
    const config = conf({ Network: '192.168.48.0/22', SubnetMin: '192.168.50.0', SubnetMax: '192.168.50.0' });
    await assert.rejects(m.acquireLease({ config, attrs: attrs('192.168.50.11'), hostNetworks: eth0, signal: AbortSignal.timeout(10_000) }), {
      code: 'E_POOL_EXHAUSTED',
      message:
        'no free subnet left in Network 192.168.48.0/22 with SubnetLen 24 (1 subnet from SubnetMin 192.168.50.0 to SubnetMax 192.168.50.0); 0 leases exist; subnets overlapping this node\'s own networks (192.168.50.0/24 on eth0) are never leased',
    });
    const wide = conf({ Network: '192.168.48.0/22' });
    for (let i = 0; i < 2; i++) {
      const lease = await m.acquireLease({ config: wide, attrs: attrs(`192.168.50.${20 + i}`), hostNetworks: eth0, signal: AbortSignal.timeout(10_000) });
      assert.notEqual(lease.subnet?.toString(), '192.168.50.0/24');
    }
  });

  it('skips a previous subnet (subnet.env) that overlaps a network of the node', async () => {
    const { m, log } = manager(newPrefix());
    const config = conf({ Network: '192.168.0.0/16' });
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), hints: { previous: { v4: Cidr.parse('192.168.50.0/24') } }, hostNetworks: eth0, signal: AbortSignal.timeout(10_000) });
    assert.notEqual(lease.subnet?.toString(), '192.168.50.0/24');
    assert.ok(log.lines.some((l) => l.msg === "previous subnet 192.168.50.0/24 (from subnet.env) overlaps this node's own network 192.168.50.0/24 on eth0; choosing another"));
  });

  it("keeps a subnet it holds whose pod bridge (any name) carries it, but not one on the external interface", async () => {
    const { m } = manager(newPrefix());
    const config = conf({ Network: '10.244.0.0/16' });
    const bridge = [{ cidr: Cidr.parse('10.244.7.0/24'), device: 'podbr0', external: false }];
    const previous = { previous: { v4: Cidr.parse('10.244.7.0/24') } };
    const kept = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), hints: previous, hostNetworks: bridge, signal: AbortSignal.timeout(10_000) });
    assert.equal(kept.subnet?.toString(), '10.244.7.0/24', 'its own bridge is no reason to move');
    const again = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), hostNetworks: bridge, signal: AbortSignal.timeout(10_000) });
    assert.equal(again.subnet?.toString(), '10.244.7.0/24', 'the lease with its public IP is reused across its own bridge');
    const other = await m.acquireLease({ config, attrs: attrs('192.168.50.12'), hostNetworks: [{ cidr: Cidr.parse('10.244.0.0/17'), device: 'podbr0', external: false }], signal: AbortSignal.timeout(10_000) });
    assert.ok(!Cidr.parse('10.244.0.0/17').containsCidr(other.subnet as Cidr), 'a new subnet avoids every host network');
  });

  it('undoes a new lease recorded in the start-up undo log, and leaves a reused one alone', async () => {
    const prefix = newPrefix();
    const { m } = manager(prefix);
    const config = conf({ Network: '10.244.0.0/16' });
    const undo = new UndoLog();
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), undo, signal: AbortSignal.timeout(10_000) });
    const key = `${prefix}/subnets/${lease.subnet?.ip.toString()}-24`;
    assert.notEqual(await get(key), '');
    assert.deepEqual((await undo.unwind(AbortSignal.timeout(10_000))).undone, [`release lease ${key}`]);
    assert.equal(await get(key), '');

    const kept = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), signal: AbortSignal.timeout(10_000) });
    const again = new UndoLog();
    await m.acquireLease({ config, attrs: attrs('192.168.50.11'), undo: again, signal: AbortSignal.timeout(10_000) });
    assert.equal(again.size, 0, 'the second start reused the lease: nothing to undo');
    assert.notEqual(await get(`${prefix}/subnets/${kept.subnet?.ip.toString()}-24`), '');
  });

  it('re-creates a deleted lease, writes its value back over garbage, and reports a lease another node took', async () => {
    const prefix = newPrefix();
    const { m, log } = manager(prefix);
    const config = conf({ Network: '10.244.0.0/16' });
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.50.11'), signal: AbortSignal.timeout(10_000) });
    const key = `${prefix}/subnets/${lease.subnet?.ip.toString()}-24`;
    const mine = await get(key);

    await etcdctl(etcd.endpoint, ['del', key]);
    const back = await m.renewLease(lease, AbortSignal.timeout(10_000));
    assert.equal(back.subnet?.toString(), lease.subnet?.toString());
    assert.equal(await get(key), mine);
    assert.ok(log.lines.some((l) => l.msg === `lease ${key} was gone from etcd (deleted, or expired while this node could not renew it); re-created it for the same subnet`));

    await etcdctl(etcd.endpoint, ['put', key, 'garbage']);
    await m.renewLease(back, AbortSignal.timeout(10_000));
    assert.equal(await get(key), mine);
    assert.ok(log.lines.some((l) => l.msg.startsWith(`lease ${key} held an unreadable value (`) && l.msg.endsWith("); wrote this node's value back")));
    assert.notEqual((await etcdctl(etcd.endpoint, ['get', key, '-w', 'json'])).match(/"lease":(\d+)/)?.[1], undefined, 'the restored key hangs on an etcd lease again');

    await etcdctl(etcd.endpoint, ['put', key, '{"PublicIP":"192.168.50.99","BackendType":"vxlan"}']);
    await assert.rejects(m.renewLease(back, AbortSignal.timeout(10_000)), {
      code: 'E_LEASE_LOST',
      message: `lease ${key} is now held by node 192.168.50.99, not by this node: another node took this subnet`,
    });
  });
});
