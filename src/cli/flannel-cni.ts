#!/usr/bin/env node
/**
 * flannel: the CNI plugin entry point. The runtime starts it once per pod and command, so it
 * does as little as possible: read env and stdin, dispatch, write stdout, exit. Shipped compiled
 * (dist/bin/flannel, bun --compile); `node dist/cli/flannel-cni.js` behaves the same, slower.
 */
import { readFileSync, readSync, writeSync } from 'node:fs';
import { runCni } from '../cni/plugin.ts';

const pause = (): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
const isEagain = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EAGAIN';

/** All of fd 0, also when the runtime handed us a non-blocking pipe. */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if (isEagain(err)) {
        pause();
        continue;
      }
      if ((err as NodeJS.ErrnoException).code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if (!isEagain(err)) throw err;
      pause();
    }
  }
}

function programVersion(): string {
  // Set at compile time by scripts/build-cni.mjs; under node, read package.json.
  const built = process.env.FLANNEL_TS_BUILD_VERSION;
  if (built) return built;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

// No top-level await: bun's --bytecode build does not allow it.
void runCni({ env: process.env, readStdin, programVersion }).then((outcome) => {
  if (outcome.stdout) writeAll(1, outcome.stdout);
  if (outcome.stderr) writeAll(2, outcome.stderr);
  process.exit(outcome.exitCode);
});
