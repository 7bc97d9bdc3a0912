import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { peer } from '../testing/fixtures.ts';
import { PassSchedule } from './schedule.ts';

const lease = peer({ subnet: '10.244.2.0/24', publicIP: '192.0.2.12' });

describe('PassSchedule', () => {
  it('has no work before the first snapshot, then one full pass with the pending changes', () => {
    const s = new PassSchedule({ intervalMs: 0, repairDelayMs: 100, retryDelayMs: 1000 });
    s.enqueue({ snapshot: false, events: [{ type: 'added', lease }] });
    assert.equal(s.hasWork, false);
    s.enqueue({ snapshot: true, events: [] });
    assert.equal(s.hasWork, true);
    assert.equal(s.takeFull(), true);
    assert.deepEqual(s.takePending().map(([, l]) => l), [lease]);
    assert.equal(s.hasWork, false);
    s.enqueue({ snapshot: false, events: [{ type: 'removed', lease }] });
    assert.equal(s.takeFull(), false, 'later changes are incremental');
    assert.deepEqual(s.takePending().map(([, l]) => l), [null]);
  });

  it('coalesces drift into one repair pass after the delay, and periodic passes at the interval', () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const s = new PassSchedule({ intervalMs: 10_000, repairDelayMs: 100, retryDelayMs: 1000 });
      s.enqueue({ snapshot: true, events: [] });
      s.takeFull();
      s.start();
      s.scheduleRepair();
      s.scheduleRepair();
      mock.timers.tick(99);
      assert.equal(s.hasWork, false);
      mock.timers.tick(1);
      assert.equal(s.takeFull(), true);
      mock.timers.tick(1000);
      assert.equal(s.hasWork, false, 'two drift notices made one pass');
      mock.timers.tick(8900);
      assert.equal(s.takeFull(), true, 'the periodic pass');
      s.stop();
      mock.timers.tick(20_000);
      assert.equal(s.hasWork, false, 'nothing after stop');
    } finally {
      mock.timers.reset();
    }
  });

  it('backs off retries, doubling up to the interval, and starts over after a good pass', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const s = new PassSchedule({ intervalMs: 5000, repairDelayMs: 100, retryDelayMs: 1000 });
      s.enqueue({ snapshot: true, events: [] });
      const waits: number[] = [];
      for (let i = 0; i < 5; i++) {
        s.takeFull();
        s.scheduleRetry();
        let waited = 0;
        while (!s.hasWork) {
          mock.timers.tick(100);
          waited += 100;
        }
        waits.push(waited);
      }
      assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
      s.resetRetry();
      s.takeFull();
      s.scheduleRetry();
      mock.timers.tick(1000);
      assert.equal(s.takeFull(), true);
      s.stop();
    } finally {
      mock.timers.reset();
    }
  });

  it('wakes a waiting loop on new work and on stop', async () => {
    const s = new PassSchedule({ intervalMs: 0, repairDelayMs: 100, retryDelayMs: 1000 });
    const woken = s.waitForWork();
    s.enqueue({ snapshot: true, events: [] });
    await woken;
    const again = s.waitForWork();
    s.stop();
    await again;
  });
});
