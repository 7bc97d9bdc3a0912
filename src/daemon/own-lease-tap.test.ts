import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr, IPAddress } from '../ip/index.ts';
import type { Lease } from '../lease/index.ts';
import type { SubnetManager, WatchResult } from '../subnet/index.ts';
import { OwnLeaseTap, type OwnLeaseChange } from './own-lease-tap.ts';

const mk = (subnet: string, ip: string, mac = 'aa:aa:aa:aa:aa:01'): Lease => ({
  subnet: Cidr.parse(subnet),
  attrs: { publicIP: IPAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
});
const own = mk('10.244.1.0/24', '192.168.50.11');
const peer = mk('10.244.2.0/24', '192.168.50.12', 'aa:aa:aa:aa:aa:02');

function managerYielding(results: WatchResult[]): SubnetManager {
  return {
    name: 'scripted',
    async *watchLeases() {
      yield* results;
    },
  } as unknown as SubnetManager;
}

async function seen(results: WatchResult[]): Promise<{ changes: OwnLeaseChange['kind'][]; passedOn: number }> {
  const tap = new OwnLeaseTap(managerYielding(results));
  const changes: OwnLeaseChange['kind'][] = [];
  tap.follow(own, (c) => changes.push(c.kind));
  let passedOn = 0;
  for await (const _r of tap.subnets.watchLeases(AbortSignal.timeout(5000))) passedOn++;
  return { changes, passedOn };
}

describe('OwnLeaseTap', () => {
  it('passes every result on and reports nothing while the own lease is intact', async () => {
    const r = await seen([
      { kind: 'snapshot', leases: [own, peer] },
      { kind: 'events', events: [{ type: 'added', lease: own }, { type: 'removed', lease: peer }] },
    ]);
    assert.deepEqual(r, { changes: [], passedOn: 2 });
  });
  it('reports a deleted lease and one missing from a fresh listing', async () => {
    const r = await seen([
      { kind: 'snapshot', leases: [own, peer] },
      { kind: 'events', events: [{ type: 'removed', lease: own }] },
      { kind: 'snapshot', leases: [peer] },
    ]);
    assert.deepEqual(r.changes, ['missing', 'missing']);
  });
  it('reports the lease taken by another node or rewritten (a wrong VtepMAC black-holes traffic)', async () => {
    const r = await seen([
      { kind: 'events', events: [{ type: 'added', lease: mk('10.244.1.0/24', '192.168.50.99') }] },
      { kind: 'snapshot', leases: [mk('10.244.1.0/24', '192.168.50.11', 'de:ad:be:ef:00:01')] },
    ]);
    assert.deepEqual(r.changes, ['changed', 'changed']);
  });
  it('hands other members of the manager through unchanged', async () => {
    const inner = { name: 'inner', async close() {}, marker: 42 } as unknown as SubnetManager;
    const tap = new OwnLeaseTap(inner);
    assert.equal(tap.subnets.name, 'inner');
    await tap.subnets.close();
  });
});
