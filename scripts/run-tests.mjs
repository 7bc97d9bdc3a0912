#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx).
// Files: src/**/*.test.ts (unit) and test/**/*.test.ts (integration, e2e).
// `--unit` limits the run to src/; extra arguments are file filters (substring match).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const roots = unitOnly ? ['src'] : ['src', 'test'];
const files = roots
  .flatMap((r) => walk(join(root, r)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
