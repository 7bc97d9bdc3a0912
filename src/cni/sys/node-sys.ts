/**
 * @module cni/sys/node-sys
 * The Sys calls on node:fs, loaded on first use (the compiled plugin loads it for GC only).
 */
import type * as Fs from 'node:fs';
import { dirName, joinPath } from './path.ts';
import { notRegular, tooLarge, type Sys } from './sys.ts';

const isEagain = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EAGAIN';
const pause = (): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);

let fsModule: typeof Fs | undefined;
export function nodeFs(): typeof Fs {
  fsModule ??= process.getBuiltinModule('node:fs');
  return fsModule;
}

/**
 * At most `limit` bytes of an fd, also when a runtime handed us a non-blocking pipe: reads in
 * chunks and stops at the first byte past the limit (TOO_LARGE), so /dev/zero or an endless pipe
 * costs one chunk of memory.
 */
function readBoundedSync(fs: typeof Fs, fd: number, limit: number, what: string): string {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(Math.min(64 * 1024, limit + 1));
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, Math.min(buf.length, limit + 1 - total), null);
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
    total += n;
    if (total > limit) throw tooLarge(what, limit);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A file's text, at most `limit` bytes; a FIFO or socket is refused, with `regularOnly` any device too (see Sys.readText). */
function readFileBounded(fs: typeof Fs, path: string, limit: number, regularOnly: boolean): string {
  if (regularOnly) {
    const st = fs.statSync(path);
    if (!st.isFile() && !st.isDirectory()) throw notRegular(path);
  }
  // O_NONBLOCK: opening a FIFO nobody writes to returns at once (blocking, it would wait forever);
  // fstat then refuses it. Regular files and devices read as usual.
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) throw notRegular(path);
    return readBoundedSync(fs, fd, limit, path);
  } finally {
    fs.closeSync(fd);
  }
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
    // async: a failure is a rejection, as with bun's calls.
    readStdin: async (limit) => readBoundedSync(fs, 0, limit, 'stdin'),
    readText: async (path, limit, options) => readFileBounded(fs, path, limit, options?.regularOnly ?? false),
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
