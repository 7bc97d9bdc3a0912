#!/usr/bin/env node
// Builds dist/bin/flannel: the CNI plugin (src/cli/flannel-cni.ts) compiled to one executable with
// `bun build --compile`, so the runtime's per-pod exec does not pay Node's start-up.
// Bun comes from the `bun` devDependency (scripts/find-bun.mjs).
// Usage: node scripts/build-cni.mjs [--outfile <path>] [--empty | --entry <file>]
//   --empty  an empty program compiled the same way instead: bun's own start-up, the floor
//            `npm run bench` measures the plugin against (bench/src/cni.ts)
//   --entry  another program compiled the same way (test/perf/cni-cost.sh: a minimal plugin)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { bunBuild } from './find-bun.mjs';

/**
 * How the plugin is compiled. --bytecode: no parsing at start-up (~3 ms less per call than
 * without, measured on a loaded 2-core box); the .env / bunfig.toml lookups are off, a CNI
 * plugin reads neither. Tried and left out, no difference within the noise of 80 interleaved
 * ADD/DEL pairs: --format=esm (bun's pre-resolved module graph), --bytecode-order (a profile of
 * ADD and DEL), --compile-jit-policy (nothing on the ADD/DEL path runs long enough to be
 * compiled since the canonical JSON sort stopped calling back into JavaScript).
 */
const COMPILE_FLAGS = ['--compile', '--minify', '--bytecode', '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig'];

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outfile');
const empty = args.includes('--empty');
const entryIdx = args.indexOf('--entry');
const outfile = resolve(outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1] : join(root, empty ? 'dist/bin/bun-empty' : 'dist/bin/flannel'));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

mkdirSync(dirname(outfile), { recursive: true });
let entry = entryIdx >= 0 && args[entryIdx + 1] ? resolve(args[entryIdx + 1]) : join(root, 'src/cli/flannel-cni.ts');
let scratch;
if (empty) {
  scratch = mkdtempSync(join(tmpdir(), 'build-cni-empty-'));
  entry = join(scratch, 'empty.ts');
  writeFileSync(entry, '');
}
const bun = bunBuild(root, 'build-cni', [...COMPILE_FLAGS, '--define', `process.env.FLANNEL_TS_BUILD_VERSION=${JSON.stringify(version)}`, entry, '--outfile', outfile]);
if (scratch) rmSync(scratch, { recursive: true, force: true });
if (!bun) process.exit(1);
const mib = (statSync(outfile).size / 1048576).toFixed(1);
console.log(`build-cni: ${outfile}${empty ? ' (empty program)' : ''} (${mib} MiB, bun ${spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);
