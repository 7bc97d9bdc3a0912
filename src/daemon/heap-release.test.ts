import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { PassSummary } from '../backend/index.ts';
import { createMemoryLogger } from '../log/index.ts';
import { collectGarbageAndUnmap, createHeapRelease } from './heap-release.ts';

const pass = (applied: number, removed = 0): PassSummary => ({ kind: 'full', peers: applied, applied, removed, failed: 0, ms: 1 });

/** The collection, recording when (on the mocked clock) it ran. */
function recorder(): { collect: () => Promise<void>; times: number[] } {
  const times: number[] = [];
  return { times, collect: async () => void times.push(Date.now()) };
}

/** Moves the mocked clock and lets the collections it started settle. */
async function elapse(ms: number): Promise<void> {
  mock.timers.tick(ms);
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('createHeapRelease', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());
  const clock = { now: () => Date.now() };

  it('collects once, after the quiet time, when a pass changed many kernel objects', async () => {
    const r = recorder();
    const log = createMemoryLogger();
    const h = createHeapRelease({ ...clock, log, minChanges: 100, quietMs: 150, minIntervalMs: 10_000, collect: r.collect, anonRssMiB: () => 40 });
    h.afterPass(pass(60, 60));
    h.afterPass(pass(500));
    await elapse(149);
    assert.equal(r.times.length, 0, 'not before the quiet time');
    await elapse(1);
    assert.deepEqual(r.times, [1_000_150]);
    await elapse(10_000);
    assert.equal(r.times.length, 1, 'once');
    assert.equal(log.lines.at(-1)?.msg, 'returned the memory of the last burst to the OS (anonymous RSS 40.0 → 40.0 MiB)');
  });

  it('leaves small passes alone', async () => {
    const r = recorder();
    const h = createHeapRelease({ ...clock, log: createMemoryLogger(), minChanges: 100, quietMs: 5, collect: r.collect });
    for (let i = 0; i < 5; i++) h.afterPass(pass(99));
    await elapse(60_000);
    assert.equal(r.times.length, 0);
  });

  it('waits while passes keep coming, then collects once, the quiet time after the last', async () => {
    const r = recorder();
    const h = createHeapRelease({ ...clock, log: createMemoryLogger(), minChanges: 100, quietMs: 150, collect: r.collect });
    h.afterPass(pass(1000));
    for (let i = 0; i < 4; i++) {
      await elapse(100);
      h.afterPass(pass(1));
    }
    await elapse(149);
    assert.equal(r.times.length, 0, 'each pass postponed it');
    await elapse(1);
    assert.deepEqual(r.times, [1_000_000 + 4 * 100 + 150]);
    await elapse(60_000);
    assert.equal(r.times.length, 1);
  });

  it('runs at most once per interval, deferring a later burst instead of dropping it', async () => {
    const r = recorder();
    const h = createHeapRelease({ ...clock, log: createMemoryLogger(), minChanges: 10, quietMs: 5, minIntervalMs: 400, collect: r.collect });
    h.afterPass(pass(10));
    await elapse(5);
    assert.deepEqual(r.times, [1_000_005]);
    await elapse(35);
    h.afterPass(pass(10));
    await elapse(5 + 359);
    assert.deepEqual(r.times, [1_000_005], 'second burst deferred until the interval has passed');
    await elapse(1);
    assert.deepEqual(r.times, [1_000_005, 1_000_405], 'second burst collected once the interval passed, not dropped');
  });

  it('also collects, after a small pass, once the old generation has grown enough since the last collection', async () => {
    const r = recorder();
    let old = 50 * 1048576;
    const h = createHeapRelease({ ...clock, log: createMemoryLogger(), minChanges: 1000, quietMs: 5, minIntervalMs: 0, oldGrowthMiB: 2, oldBytes: () => old, collect: r.collect });
    old += 5 * 1048576; // module loading before the first pass is not garbage
    h.afterPass(pass(0));
    await elapse(20);
    assert.equal(r.times.length, 0, 'the first pass sets the baseline');
    old += 1.9 * 1048576;
    h.afterPass(pass(0));
    await elapse(20);
    assert.equal(r.times.length, 0, '1.9 MiB of growth is not enough');
    old += 0.2 * 1048576;
    h.afterPass(pass(0));
    await elapse(20);
    assert.equal(r.times.length, 1);
    old += 1.9 * 1048576; // 4 MiB above the start, 1.9 above where the collection left it
    h.afterPass(pass(0));
    await elapse(20);
    assert.equal(r.times.length, 1, 'growth is counted from the last collection');
  });

  it('gives up quietly, with one debug line, where the collection is unavailable', async () => {
    const log = createMemoryLogger();
    let calls = 0;
    const h = createHeapRelease({
      ...clock,
      log,
      minChanges: 1,
      quietMs: 1,
      minIntervalMs: 0,
      collect: async () => {
        calls++;
        throw new Error('Inspector is not available');
      },
    });
    h.afterPass(pass(5));
    await elapse(20);
    h.afterPass(pass(5));
    await elapse(20);
    assert.equal(calls, 1);
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.msg]),
      [['debug', 'not returning memory after bursts: Inspector is not available']],
    );
  });
});

describe('collectGarbageAndUnmap', () => {
  const anonMiB = (): number => Number(/^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;

  it('hands a dropped burst of objects back to the OS at once', async () => {
    await collectGarbageAndUnmap();
    const base = anonMiB();
    let burst: Array<{ id: number; name: string; parts: number[] }> | undefined = [];
    for (let i = 0; i < 1_500_000; i++) burst.push({ id: i, name: `peer-${i}`, parts: [i, i + 1] });
    const held = anonMiB();
    assert.equal(burst.length, 1_500_000);
    burst = undefined;
    await collectGarbageAndUnmap();
    const after = anonMiB();
    // Relative to what the burst itself took, so the margin does not depend on the machine.
    const grown = held - base;
    assert.ok(grown > 50, `the burst grew anonymous RSS by ${grown.toFixed(1)} MiB`);
    assert.ok(held - after > grown * 0.6, `anonymous RSS went ${base.toFixed(1)} -> ${held.toFixed(1)} -> ${after.toFixed(1)} MiB; expected most of the ${grown.toFixed(1)} MiB back`);
  });
});
