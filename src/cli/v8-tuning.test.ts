import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./v8-tuning.ts', import.meta.url));

/**
 * Churns garbage in a fresh node, with or without the tuning module loaded first, then asks V8 to
 * optimize a function with TurboFan (which --max-opt refuses). Asked, not waited for: a background
 * compile may not finish in time on a busy machine.
 */
function probe(tuned: boolean): { newSpaceMiB: number; optimized: boolean } {
  const script = `
    ${tuned ? `await import(${JSON.stringify(MODULE)});` : ''}
    const v8 = await import('node:v8');
    function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
    let keep;
    for (let r = 0; r < 40; r++) { const a = []; for (let i = 0; i < 50000; i++) a.push({ i, s: 'x' + i }); keep = a; }
    %PrepareFunctionForOptimization(hot);
    hot(100);
    hot(100);
    %OptimizeFunctionOnNextCall(hot);
    hot(100);
    const status = %GetOptimizationStatus(hot);
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(JSON.stringify({ newSpaceMiB: ns.space_size / 1048576, optimized: (status & 16) !== 0, kept: keep.length }));
  `;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string) as { newSpaceMiB: number; optimized: boolean };
}

describe('v8-tuning', () => {
  it('takes effect when set at run time on this Node: small young generation, no TurboFan', () => {
    const untuned = probe(false);
    const tuned = probe(true);
    // The control shows the probe can see the difference at all.
    assert.ok(untuned.newSpaceMiB > 4, `untuned new space ${untuned.newSpaceMiB} MiB`);
    assert.ok(untuned.optimized, 'untuned: the hot function was optimized');
    assert.ok(tuned.newSpaceMiB <= 2, `tuned new space ${tuned.newSpaceMiB} MiB`);
    assert.equal(tuned.optimized, false, 'tuned: the hot function stayed on the baseline tier');
  });
});
