#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx).
// Files: src/**/*.test.ts (unit) and test/**/*.test.ts (integration, e2e).
// `--unit` limits the run to src/; extra arguments are file filters (substring match).
import { spawnSync } from 'node:child_process';
import { findTestFiles, root } from './test-files.mjs';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));
const files = findTestFiles(unitOnly ? ['src'] : ['src', 'test'], '.test.ts', filters);
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
