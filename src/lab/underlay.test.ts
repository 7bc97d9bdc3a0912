import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NODE_INDEX, UNDERLAY, underlayMac } from './cluster.ts';

describe('the lab underlay', () => {
  it('gives each address a fixed, locally administered MAC made of the address', () => {
    assert.equal(underlayMac('192.168.50.11'), '02:fa:c0:a8:32:0b');
    assert.equal(underlayMac(UNDERLAY.gateway), '02:fa:c0:a8:32:01');
    const macs = new Set(Array.from({ length: MAX_NODE_INDEX }, (_, i) => underlayMac(UNDERLAY.node(i + 1))));
    assert.equal(macs.size, MAX_NODE_INDEX);
  });

  it('has an address for every node number up to MAX_NODE_INDEX, below the broadcast address', () => {
    assert.equal(UNDERLAY.node(MAX_NODE_INDEX), '192.168.50.254');
  });
});
