/**
 * @module cni/sys/node-sys
 * The Sys calls on node:fs, loaded on first use (the compiled plugin loads it for GC only).
 */
import type * as Fs from 'node:fs';
import { dirName, joinPath } from './path.ts';
import type { Sys } from './sys.ts';

const isEagain = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EAGAIN';
const pause = (): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);

let fsModule: typeof Fs | undefined;
export function nodeFs(): typeof Fs {
  fsModule ??= process.getBuiltinModule('node:fs');
  return fsModule;
}

/** All of an fd, also when a runtime handed us a non-blocking pipe. */
function readAllSync(fs: typeof Fs, fd: number): string {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if (isEagain(err)) {
        pause();
        continue;
      }
      if ((err as NodeJS.ErrnoException).code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isExecutableFile(fs: typeof Fs, p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function nodeSys(): Sys {
  const fs = nodeFs();
  return {
    readStdin: () => Promise.resolve(readAllSync(fs, 0)),
    readText: (path) => fs.promises.readFile(path, 'utf8'),
    async writePrivate(path, data) {
      await fs.promises.mkdir(dirName(path), { recursive: true, mode: 0o700 });
      await fs.promises.writeFile(path, data, { mode: 0o600 });
    },
    unlink: (path) => fs.promises.unlink(path),
    readdir: (path) => fs.readdirSync(path),
    findExecutable: (name, dirs) => dirs.map((d) => joinPath(d, name)).find((p) => isExecutableFile(fs, p)),
    runCaptured(path, stdin, env) {
      const r = process.getBuiltinModule('node:child_process').spawnSync(path, [], { input: stdin, env, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
      if (r.error) throw r.error;
      return { stdout: r.stdout ?? '', status: r.status, signal: r.signal };
    },
    writeOut(fd, text) {
      const buf = Buffer.from(text);
      let off = 0;
      while (off < buf.length) {
        try {
          off += fs.writeSync(fd, buf, off);
        } catch (err) {
          if (!isEagain(err)) throw err;
          pause();
        }
      }
      return Promise.resolve();
    },
  };
}
