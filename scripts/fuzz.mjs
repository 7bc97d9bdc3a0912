#!/usr/bin/env node
// The long fuzz run: every src/**/*.fuzz.test.ts (and test/**) with FUZZ_RUNS set so that all
// properties together get at least FUZZ_TOTAL inputs (default 1,000,000).
// A property is one `fc.assert(` call with fuzzParams() (test/harness/fuzz.ts); the budget is
// spread evenly over them, and each property reports the runs it made (FUZZ_COUNT_FILE).
// Usage: npm run fuzz [-- <file filter>...]   e.g. npm run fuzz -- src/ip
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { findTestFiles, root } from './test-files.mjs';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const total = Number(process.env.FUZZ_TOTAL ?? 1_000_000);
if (!Number.isInteger(total) || total < 1) {
  console.error(`FUZZ_TOTAL must be a positive whole number, got "${process.env.FUZZ_TOTAL}"`);
  process.exit(2);
}

const files = findTestFiles(['src', 'test'], '.fuzz.test.ts', filters);
const perFile = files.map((f) => ({ file: f, properties: (readFileSync(join(root, f), 'utf8').match(/\bfc\.assert\s*\(/g) ?? []).length }));
const properties = perFile.reduce((n, f) => n + f.properties, 0);
if (properties === 0) {
  console.error('no fuzz properties found (files named *.fuzz.test.ts with fc.assert calls)');
  process.exit(1);
}
const runs = Math.ceil(total / properties);
const budget = runs * properties;

console.log(`fuzz: ${files.length} files, ${properties} properties, FUZZ_RUNS=${runs} each: budget ${budget.toLocaleString('en')} inputs (at least ${total.toLocaleString('en')})`);
for (const f of perFile) console.log(`  ${String(f.properties).padStart(3)}  ${f.file}`);

const work = mkdtempSync(join(tmpdir(), 'flannel-fuzz-'));
const countFile = join(work, 'counts.jsonl');
const tapFile = join(work, 'report.tap');
const started = Date.now();
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    // A property at FUZZ_RUNS may take minutes on a loaded 2-core machine; a hang still ends.
    '--test-timeout=3600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_COUNT_FILE: countFile } },
);
const stop = (signal) => child.kill(signal);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

child.on('exit', (code, signal) => {
  const seconds = (Date.now() - started) / 1000;
  let ran = 0;
  let reported = 0;
  let failedProperties = 0;
  try {
    for (const line of readFileSync(countFile, 'utf8').split('\n')) {
      if (!line) continue;
      const c = JSON.parse(line);
      ran += c.runs;
      reported += c.properties;
      failedProperties += c.failed;
    }
  } catch {
    // no property reported (e.g. every file failed to load)
  }
  const summary = {};
  try {
    for (const m of readFileSync(tapFile, 'utf8').matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) summary[m[1]] = Number(m[2]);
  } catch {
    // the runner died before writing its report
  }
  rmSync(work, { recursive: true, force: true });
  const clean = code === 0 && failedProperties === 0 && reported === properties && ran >= total;
  console.log('');
  console.log(`fuzz: budget ${budget.toLocaleString('en')} inputs over ${properties} properties (FUZZ_RUNS=${runs})`);
  console.log(`fuzz: ran ${ran.toLocaleString('en')} inputs in ${reported} properties in ${seconds.toFixed(0)} s`);
  console.log(
    `fuzz: tests ${summary.tests ?? '?'}, pass ${summary.pass ?? '?'}, fail ${summary.fail ?? '?'}, todo ${summary.todo ?? '?'}; properties that failed: ${failedProperties}` +
      (reported < properties ? `; ${properties - reported} properties did not report (not run, or without fuzzParams())` : ''),
  );
  console.log(`fuzz: result: ${clean ? 'CLEAN' : signal ? `stopped by ${signal}` : 'NOT CLEAN (see the failures above)'}`);
  process.exit(code === 0 && !clean ? 1 : (code ?? 1));
});
