/**
 * @module cni/sys/bun-sys
 * The Sys calls in the compiled plugin: bun's own APIs (stdin, PATH lookup) and libc through
 * bun:ffi for the file system calls, because loading bun's node:fs layer costs more than a whole
 * ADD's worth of our own work. Rare calls (GC's directory listing) fall back to node:fs.
 */
import { nodeFs } from './node-sys.ts';
import { EXEC_STDIN_MAX_BYTES, SysError, type Sys } from './sys.ts';

type FfiArg = 'i32' | 'u32' | 'u64' | 'ptr';
interface FfiModule {
  dlopen(lib: string, symbols: Record<string, { args: FfiArg[]; returns: 'i32' | 'ptr' | 'cstring' }>): { symbols: Record<string, (...args: unknown[]) => unknown> };
  read: { i32(ptr: number, offset: number): number };
}
interface BunProcess {
  execve(file: string, args: string[], env: Record<string, string>): never;
}
interface BunApi {
  which(cmd: string, options: { PATH: string; cwd: string }): string | null;
}

interface Libc {
  open(path: Uint8Array, flags: number, mode: number): number;
  read(fd: number, buf: Uint8Array, n: number): number;
  write(fd: number, buf: Uint8Array, n: number): number;
  close(fd: number): number;
  rename(from: Uint8Array, to: Uint8Array): number;
  mkdir(path: Uint8Array, mode: number): number;
  unlink(path: Uint8Array): number;
  pipe2(fds: Int32Array, flags: number): number;
  dup2(from: number, to: number): number;
  errno(): number;
  strerror(errno: number): string;
}

// Same values on x86-64 and arm64 Linux.
const O_RDONLY = 0;
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_CLOEXEC = 0o2000000;

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES',
  16: 'EBUSY', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE', 26: 'ETXTBSY',
  28: 'ENOSPC', 30: 'EROFS', 36: 'ENAMETOOLONG', 40: 'ELOOP', 122: 'EDQUOT',
};

function loadLibc(): Libc | undefined {
  let ffi: FfiModule;
  let s: Record<string, (...args: unknown[]) => unknown>;
  try {
    ffi = process.getBuiltinModule('bun:ffi') as unknown as FfiModule;
    s = ffi.dlopen('libc.so.6', {
      open: { args: ['ptr', 'i32', 'u32'], returns: 'i32' },
      read: { args: ['i32', 'ptr', 'u64'], returns: 'i32' },
      write: { args: ['i32', 'ptr', 'u64'], returns: 'i32' },
      close: { args: ['i32'], returns: 'i32' },
      rename: { args: ['ptr', 'ptr'], returns: 'i32' },
      mkdir: { args: ['ptr', 'u32'], returns: 'i32' },
      unlink: { args: ['ptr'], returns: 'i32' },
      pipe2: { args: ['ptr', 'i32'], returns: 'i32' },
      dup2: { args: ['i32', 'i32'], returns: 'i32' },
      __errno_location: { args: [], returns: 'ptr' },
      strerror: { args: ['i32'], returns: 'cstring' },
    }).symbols;
  } catch {
    return undefined; // not glibc (musl) or no FFI: the node implementation will do
  }
  const call = (name: string, ...args: unknown[]): number => (s[name] as (...a: unknown[]) => number)(...args);
  return {
    open: (path, flags, mode) => call('open', path, flags, mode),
    read: (fd, buf, n) => call('read', fd, buf, n),
    write: (fd, buf, n) => call('write', fd, buf, n),
    close: (fd) => call('close', fd),
    rename: (from, to) => call('rename', from, to),
    mkdir: (path, mode) => call('mkdir', path, mode),
    unlink: (path) => call('unlink', path),
    pipe2: (fds, flags) => call('pipe2', fds, flags),
    dup2: (from, to) => call('dup2', from, to),
    errno: () => ffi.read.i32(call('__errno_location'), 0),
    strerror: (errno) => String((s.strerror as (e: number) => unknown)(errno)),
  };
}

const encoder = new TextEncoder();
const cstr = (s: string): Uint8Array => encoder.encode(`${s}\0`);
const pause = (): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);

export function bunSys(): Sys | undefined {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  const libc = bun ? loadLibc() : undefined;
  if (!bun || !libc) return undefined;

  const fail = (syscall: string, path: string): never => {
    const errno = libc.errno();
    throw new SysError(ERRNO_NAMES[errno] ?? `E${errno}`, errno, syscall, path, libc.strerror(errno).toLowerCase());
  };
  /** Retries EINTR; returns the result, or throws for any other failure. */
  const check = (syscall: string, path: string, op: () => number): number => {
    for (;;) {
      const r = op();
      if (r >= 0) return r;
      if (libc.errno() !== 4) fail(syscall, path);
    }
  };
  const openFd = (path: string, flags: number, mode = 0): number => check('open', path, () => libc.open(cstr(path), flags | O_CLOEXEC, mode));
  const withFd = <T>(fd: number, f: () => T): T => {
    try {
      return f();
    } finally {
      libc.close(fd);
    }
  };
  const writeAll = (fd: number, bytes: Uint8Array, what: string): void => {
    let off = 0;
    while (off < bytes.length) {
      const rest = bytes.subarray(off);
      const n = libc.write(fd, rest, rest.length);
      if (n >= 0) off += n;
      else if (libc.errno() === 11) pause(); // a non-blocking pipe that is full
      else if (libc.errno() !== 4) fail('write', what);
    }
  };
  const readFd = (fd: number, what: string): string => {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = libc.read(fd, buf, buf.length);
      if (n === 0) break;
      if (n > 0) chunks.push(buf.slice(0, n));
      else if (libc.errno() === 11) pause(); // a runtime may hand us a non-blocking pipe
      else if (libc.errno() !== 4) fail('read', what);
    }
    return new TextDecoder().decode(chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks));
  };
  const mkdirp = (path: string, mode: number): void => {
    if (libc.mkdir(cstr(path), mode) === 0) return;
    const errno = libc.errno();
    if (errno === 17) return; // EEXIST
    const slash = path.replace(/\/+$/, '').lastIndexOf('/');
    if (errno !== 2 || slash <= 0) fail('mkdir', path);
    mkdirp(path.slice(0, slash), mode);
    if (libc.mkdir(cstr(path), mode) !== 0 && libc.errno() !== 17) fail('mkdir', path);
  };

  return {
    readStdin: () => Promise.resolve(readFd(0, 'stdin')),
    readText(path) {
      const fd = openFd(path, O_RDONLY);
      return withFd(fd, () => readFd(fd, path));
    },
    mkdirp,
    writeText(path, data, mode) {
      const fd = openFd(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
      withFd(fd, () => writeAll(fd, encoder.encode(data), path));
    },
    rename: (from, to) => void check('rename', from, () => libc.rename(cstr(from), cstr(to))),
    unlink: (path) => void check('unlink', path, () => libc.unlink(cstr(path))),
    readdir: (path) => nodeFs().readdirSync(path),
    mtimeMs: (path) => nodeFs().statSync(path).mtimeMs,
    findExecutable: (name, dirs) => bun.which(name, { PATH: dirs.join(':'), cwd: '/' }) ?? undefined,
    writeOut: (fd, text) => writeAll(fd, encoder.encode(text), fd === 1 ? 'stdout' : 'stderr'),
    execWithStdin(path, stdin, env) {
      const bytes = encoder.encode(stdin);
      if (bytes.length > EXEC_STDIN_MAX_BYTES) throw new SysError('E2BIG', 7, 'exec', path, 'input too large to hand over through a pipe');
      // The new program reads its input from a pipe that already holds all of it, then EOF.
      const fds = new Int32Array(2);
      check('pipe2', path, () => libc.pipe2(fds, O_CLOEXEC));
      const [r, w] = [fds[0] as number, fds[1] as number];
      try {
        writeAll(w, bytes, 'pipe');
      } finally {
        libc.close(w);
      }
      check('dup2', path, () => libc.dup2(r, 0)); // dup2 clears close-on-exec on fd 0
      libc.close(r);
      return (process as unknown as BunProcess).execve(path, [path], env);
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
