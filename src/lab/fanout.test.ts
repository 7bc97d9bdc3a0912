import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimit, parseFping, parseTcpProbe } from './fanout.ts';

describe('fanout parsers', () => {
  it('reads fping -e output: alive, unreachable, and targets it never mentioned', () => {
    const out = '10.244.1.1 is alive (0.10 ms)\n10.244.2.1 is unreachable\n10.244.3.1 is alive (retry 1) (1.2 ms)\n';
    assert.deepEqual([...parseFping(out, ['10.244.1.1', '10.244.2.1', '10.244.3.1', '10.244.4.1'])], [
      ['10.244.1.1', true],
      ['10.244.2.1', false],
      ['10.244.3.1', true],
      ['10.244.4.1', false],
    ]);
  });

  it('reads the TCP prober: only "ok" counts', () => {
    assert.deepEqual([...parseTcpProbe('10.0.0.1 ok\n10.0.0.2 fail\n', ['10.0.0.1', '10.0.0.2', '10.0.0.3'])], [
      ['10.0.0.1', true],
      ['10.0.0.2', false],
      ['10.0.0.3', false],
    ]);
  });
});

describe('mapLimit', () => {
  it('keeps the order of the results and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, x));
      running--;
      return x * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
    assert.equal(most, 2);
  });

  it('handles nothing to do', async () => {
    assert.deepEqual(await mapLimit([], 4, async () => 1), []);
  });
});
