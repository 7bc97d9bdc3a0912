import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidr, ip, peer } from '../testing/fixtures.ts';
import { keyOf, type Desired } from '../kernel-objects.ts';
import { OwnershipIndex, sameObjects, type PeerState } from './ownership.ts';

const route = (dst: string, gw: string, linkIndex = 2): Desired => ({ kind: 'route', route: { dst: cidr(dst), gateway: ip(gw), linkIndex, onlink: true } });
const neigh = (gw: string, mac: string): Desired => ({ kind: 'neigh', neighbor: { linkIndex: 3, ip: ip(gw), mac } });
const lease = peer({ subnet: '10.244.2.0/24', publicIP: '192.0.2.12' });

function state(...objects: Desired[]): PeerState {
  return { lease, keys: objects.map(keyOf), objects, problems: '', programmed: false };
}

describe('OwnershipIndex', () => {
  it('claims a peer\'s objects and releases them when the peer goes', () => {
    const index = new OwnershipIndex();
    const released: string[] = [];
    const s = state(route('10.244.2.0/24', '10.244.2.0'), neigh('10.244.2.0', '0e:00:00:00:00:02'));
    index.replace('p2', undefined, s, (key) => released.push(key));
    assert.equal(index.peerCount, 1);
    assert.deepEqual(index.ownersOf('route 254 10.244.2.0/24 0'), ['p2']);
    assert.deepEqual(index.ownersOf('neigh 3 10.244.2.0'), ['p2']);
    assert.equal(released.length, 0);

    index.replace('p2', s, undefined, (key) => released.push(key));
    assert.equal(index.peerCount, 0);
    assert.deepEqual(released, ['route 254 10.244.2.0/24 0', 'neigh 3 10.244.2.0']);
    assert.equal(index.owner('route 254 10.244.2.0/24 0'), undefined);
  });

  it('keeps an object two peers want until the last one lets go', () => {
    const index = new OwnershipIndex();
    const released: string[] = [];
    const shared = route('10.244.0.0/16', '192.0.2.1');
    const a = state(shared);
    const b = state(shared, route('10.244.3.0/24', '10.244.3.0'));
    index.replace('a', undefined, a, (k) => released.push(k));
    index.replace('b', undefined, b, (k) => released.push(k));
    assert.deepEqual(index.ownersOf(keyOf(shared)), ['a', 'b']);

    index.replace('a', a, undefined, (k) => released.push(k));
    assert.equal(released.length, 0, 'b still wants the shared route');
    assert.deepEqual(index.ownersOf(keyOf(shared)), ['b']);
    // Back to a single owner, the owner is stored as a plain id again.
    assert.equal(index.owner(keyOf(shared))?.peers, 'b');

    index.replace('b', b, undefined, (k) => released.push(k));
    assert.deepEqual(released, [keyOf(shared), 'route 254 10.244.3.0/24 0']);
  });

  it('releases only what a changed peer no longer wants, and takes the new value of what it keeps', () => {
    const index = new OwnershipIndex();
    const released: Array<[string, Desired]> = [];
    const old = state(route('10.244.2.0/24', '10.244.2.0'), neigh('10.244.2.0', '0e:00:00:00:00:02'));
    index.replace('p2', undefined, old, () => undefined);
    const moved = neigh('10.244.2.0', '0e:00:00:00:00:99');
    const next = state(route('10.244.2.0/24', '10.244.2.0', 5), moved);
    index.replace('p2', old, next, (k, o) => released.push([k, o]));
    assert.equal(released.length, 0, 'same keys: nothing is released, values are replaced');
    assert.deepEqual(index.owner('neigh 3 10.244.2.0')?.desired, moved);
    assert.equal(index.peer('p2'), next);
  });

  it('shares one key string between the index and the peers\' key lists', () => {
    const index = new OwnershipIndex();
    const first = state(route('10.244.2.0/24', '10.244.2.0'));
    index.replace('a', undefined, first, () => undefined);
    const second = state(route('10.244.2.0/24', '10.244.2.0'));
    index.replace('b', undefined, second, () => undefined);
    const owner = index.owner('route 254 10.244.2.0/24 0');
    assert.ok(owner);
    assert.equal(second.keys[0], owner.key);
  });

  it('sameObjects compares plans regardless of order', () => {
    const r = route('10.244.2.0/24', '10.244.2.0');
    const n = neigh('10.244.2.0', '0e:00:00:00:00:02');
    assert.equal(sameObjects(state(r, n), state(n, r)), true);
    assert.equal(sameObjects(state(r, n), state(r)), false);
    assert.equal(sameObjects(state(r, n), state(r, neigh('10.244.2.0', '0e:00:00:00:00:03'))), false);
  });
});
