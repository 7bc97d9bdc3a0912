/**
 * @module cni/sys/bun-sys
 * The Sys calls in the compiled plugin, on bun's own APIs only (see sys.ts for what the others
 * cost). GC's directory listing, the one call bun has no API for, loads node:fs.
 */
import { nodeFs } from './node-sys.ts';
import { notRegular, tooLarge, type ChildEnd, type Sys } from './sys.ts';

interface BunBlob {
  bytes(): Promise<Uint8Array>;
}
interface BunStats {
  isFIFO(): boolean;
  isSocket(): boolean;
}
interface BunFile extends BunBlob {
  /** Infinity for anything but a regular file or a directory (devices, FIFOs, sockets). */
  readonly size: number;
  slice(start: number, end: number): BunBlob;
  stat(): Promise<BunStats>;
  delete(): Promise<void>;
}
interface BunSyncSubprocess {
  stdout?: Uint8Array;
  exitCode: number | null;
  signalCode?: string | null;
}
interface BunApi {
  stdin: BunFile;
  stdout: BunFile;
  stderr: BunFile;
  file(path: string): BunFile;
  /** The file mapped into memory (opened read-write; mapped private, so nothing is written). */
  mmap(path: string, options: { shared: boolean }): Uint8Array;
  write(dest: string | BunFile, data: string): Promise<number>;
  which(cmd: string, options: { PATH: string; cwd: string }): string | null;
  spawnSync(cmd: string[], options: { stdin: Uint8Array | BunFile; stdout: 'pipe' | 'inherit'; stderr: 'inherit'; env: Record<string, string> }): BunSyncSubprocess;
}

/**
 * At most `limit` bytes of `blob`, decoded. `slice(0, limit + 1)` makes bun stop reading a pipe or
 * device once it has that much (it reads in chunks of up to 64 KiB, so it may hold one chunk more;
 * measured: 1 MiB + 1 from /dev/zero reads 1114112 bytes, in ~3 ms); a regular file is read exactly.
 */
async function readBounded(blob: BunFile, limit: number, what: string): Promise<string> {
  const bytes = await blob.slice(0, limit + 1).bytes();
  if (bytes.length > limit) throw tooLarge(what, limit);
  return new TextDecoder().decode(bytes);
}

/**
 * A regular file's text without a trip through bun's thread pool (a wake-up of a pool thread and
 * one back): Bun.mmap is the one synchronous read bun has besides node:fs, which costs more to
 * load than all of our own work. Measured: DEL's read of its saved file went from 1.27 to 0.55 ms
 * on a box where an empty compiled program starts in ~22 ms (~4.4 ms on a quiet one).
 * Undefined when the file cannot be mapped (a directory, a read-only file system, a file we may
 * not write: Bun.mmap opens read-write, though it maps privately and writes nothing; or it grew
 * past the limit since `size` looked): the caller then reads it the usual way, which reports what
 * is wrong exactly as before. A file truncated in place in the microseconds between mapping and
 * decoding would end the plugin with SIGBUS; flanneld replaces subnet.env by a rename, and only
 * ADD, which the runtime never runs beside DEL of the same container, writes a saved delegate.
 */
function mappedText(bun: BunApi, path: string, limit: number): string | undefined {
  let mapped: Uint8Array;
  try {
    mapped = bun.mmap(path, { shared: false });
  } catch {
    return undefined;
  }
  return mapped.length <= limit ? new TextDecoder().decode(mapped) : undefined;
}

export function bunSys(): Sys | undefined {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (!bun) return undefined;
  // The one read of stdin, started by prefetchStdin or by the first readStdin. Reading a pipe
  // takes bun's thread pool (two threads to start, then a hand-off back to the event loop):
  // started while the modules load and the environment is checked, it is partly done when the
  // configuration is needed (measured: start + wait went from ~3.8 to ~3.0 ms of an ADD where
  // an empty compiled program takes ~22 ms; ~1.3 of it is starting the read, before main runs).
  let stdin: { limit: number; text: Promise<string> } | undefined;
  const stdinRead = (limit: number): Promise<string> => {
    if (stdin?.limit !== limit) stdin = { limit, text: readBounded(bun.stdin, limit, 'stdin') };
    return stdin.text;
  };
  return {
    readStdin: stdinRead,
    prefetchStdin(limit) {
      // Marked handled: a failed read (too large, EIO) is reported when readStdin is awaited,
      // or not at all when the command fails before it needs stdin (as before the prefetch).
      stdinRead(limit).catch(() => undefined);
    },
    async readText(path, limit, options) {
      const probe = bun.file(path);
      const size = probe.size;
      // stat() is slower than `size` (it builds a node-style Stats): only for what is neither a
      // regular file nor a directory, never for a real subnet.env.
      if (size === Infinity) {
        if (options?.regularOnly) throw notRegular(path);
        const st = await probe.stat();
        if (st.isFIFO() || st.isSocket()) throw notRegular(path);
      } else if (size > 0 && size <= limit) {
        // 0 is also what `size` says for a missing file and for /proc files: those take the read.
        const text = mappedText(bun, path, limit);
        if (text !== undefined) return text;
      }
      // A fresh handle: once `size` has found no file (0), bun reads a slice of that handle as
      // empty instead of failing with ENOENT/ENOTDIR.
      return readBounded(bun.file(path), limit, path);
    },
    async writePrivate(path, data) {
      // Bun.write creates missing parents itself and takes no mode: the umask gives 0600 / 0700.
      // Nothing else runs in this process meanwhile, and the delegate starts after it is restored.
      const previous = process.umask(0o077);
      try {
        await bun.write(path, data);
      } finally {
        process.umask(previous);
      }
    },
    unlink: (path) => bun.file(path).delete(),
    readdir: (path) => nodeFs().readdirSync(path),
    findExecutable: (name, dirs) => bun.which(name, { PATH: dirs.join(':'), cwd: '/' }) ?? undefined,
    runCaptured(path, stdin, env) {
      // Bun's own spawn is ~3 ms faster per call than its node:child_process layer (measured).
      const p = bun.spawnSync([path], { stdin: new TextEncoder().encode(stdin), stdout: 'pipe', stderr: 'inherit', env });
      return { stdout: new TextDecoder().decode(p.stdout ?? new Uint8Array()), status: p.exitCode, signal: p.signalCode ?? null };
    },
    writeOut: async (fd, text) => void (await bun.write(fd === 1 ? bun.stdout : bun.stderr, text)),
    runWithOurOutput(path, stdinFile, env): ChildEnd {
      // Blocking, without pipes: bun waits in wait4 instead of its event loop (no pidfd, no
      // epoll round), one wake-up of this thread less, which is what costs under load; on an
      // idle CPU it takes the time Bun.spawn + exited took.
      const p = bun.spawnSync([path], { stdin: bun.file(stdinFile), stdout: 'inherit', stderr: 'inherit', env });
      const signal = p.signalCode ?? null;
      return { status: signal ? null : p.exitCode, signal };
    },
  };
}
