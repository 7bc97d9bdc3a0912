// The bun binary the build scripts use (build-cni.mjs, bundle-flanneld.mjs).
// Bun comes from the `bun` devDependency; its platform package (@oven/bun-<os>-<arch>) holds the
// binary itself, so this works even when npm did not run bun's postinstall script.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Path of a working bun under `root`/node_modules, or `bun` from PATH, or undefined. */
export function findBun(root) {
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

/**
 * Runs `bun build <args>` from `root` and returns the bun it used. On failure (no bun, or the build
 * failed) prints why, prefixed with `what`, and returns undefined: callers set process.exitCode or
 * exit, after their own cleanup.
 */
export function bunBuild(root, what, args) {
  const bun = findBun(root);
  if (!bun) {
    console.error(`${what}: no bun binary found; run "npm ci" (the bun devDependency provides it)`);
    return undefined;
  }
  const r = spawnSync(bun, ['build', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? '');
    console.error(`${what}: bun build failed (status ${r.status})`);
    return undefined;
  }
  return bun;
}
