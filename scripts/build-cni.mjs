#!/usr/bin/env node
// Builds dist/bin/flannel: the CNI plugin (src/cli/flannel-cni.ts) compiled to one executable with
// `bun build --compile`, so the runtime's per-pod exec does not pay Node's start-up.
// Bun comes from the `bun` devDependency; its platform package (@oven/bun-<os>-<arch>) holds the
// binary itself, so this works even when npm did not run bun's postinstall script.
// Usage: node scripts/build-cni.mjs [--outfile <path>]
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outfile');
const outfile = resolve(outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1] : join(root, 'dist/bin/flannel'));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

function findBun() {
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch;
  const candidates = [
    `@oven/bun-${process.platform}-${arch}`,
    `@oven/bun-${process.platform}-${arch}-baseline`,
    `@oven/bun-${process.platform}-${arch}-musl`,
    `@oven/bun-${process.platform}-${arch}-musl-baseline`,
  ].map((p) => join(root, 'node_modules', p, 'bin', 'bun'));
  // bun's own bin is the real binary only after its postinstall ran (a 450-byte placeholder before).
  candidates.push(join(root, 'node_modules', 'bun', 'bin', 'bun.exe'));
  for (const c of candidates) {
    if (!existsSync(c) || statSync(c).size < 1_000_000) continue;
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c;
  }
  if (spawnSync('bun', ['--version'], { stdio: 'ignore' }).status === 0) return 'bun';
  return undefined;
}

const bun = findBun();
if (!bun) {
  console.error('build-cni: no bun binary found; run "npm ci" (the bun devDependency provides it)');
  process.exit(1);
}
mkdirSync(dirname(outfile), { recursive: true });
const r = spawnSync(
  bun,
  [
    'build',
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
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
);
if (r.status !== 0) {
  process.stderr.write(r.stdout ?? '');
  console.error(`build-cni: bun build failed (status ${r.status})`);
  process.exit(1);
}
const mib = (statSync(outfile).size / 1048576).toFixed(1);
console.log(`build-cni: ${outfile} (${mib} MiB, bun ${spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout.trim()})`);
