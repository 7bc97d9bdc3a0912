#!/usr/bin/env node
// Builds dist/bin/flannel: the CNI plugin (src/cli/flannel-cni.ts) compiled to one executable with
// `bun build --compile`, so the runtime's per-pod exec does not pay Node's start-up.
// Bun comes from the `bun` devDependency (scripts/find-bun.mjs).
// Usage: node scripts/build-cni.mjs [--outfile <path>]
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { bunBuild } from './find-bun.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outfile');
const outfile = resolve(outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1] : join(root, 'dist/bin/flannel'));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

mkdirSync(dirname(outfile), { recursive: true });
const bun = bunBuild(root, 'build-cni', [
  '--compile',
  '--minify',
  '--bytecode',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
  '--define',
  `process.env.FLANNEL_TS_BUILD_VERSION=${JSON.stringify(version)}`,
  join(root, 'src/cli/flannel-cni.ts'),
  '--outfile',
  outfile,
]);
if (!bun) process.exit(1);
const mib = (statSync(outfile).size / 1048576).toFixed(1);
console.log(`build-cni: ${outfile} (${mib} MiB, bun ${spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);
