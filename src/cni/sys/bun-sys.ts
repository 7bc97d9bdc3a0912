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

export function bunSys(): Sys | undefined {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (!bun) return undefined;
  // The one read of stdin, started by prefetchStdin or by the first readStdin. Reading a pipe
  // takes bun's thread pool (two threads to start, then a hand-off back to the event loop):
  // started while the modules load and the environment is checked, it is mostly done when
  // the configuration is needed.
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
      // stat() is slower than `size` (it builds a node-style Stats): only for what is neither a
      // regular file nor a directory, never for a real subnet.env.
      if (probe.size === Infinity) {
        if (options?.regularOnly) throw notRegular(path);
        const st = await probe.stat();
        if (st.isFIFO() || st.isSocket()) throw notRegular(path);
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
      // epoll round, no thread started for it), ~1 ms less per ADD than Bun.spawn + exited.
      const p = bun.spawnSync([path], { stdin: bun.file(stdinFile), stdout: 'inherit', stderr: 'inherit', env });
      const signal = p.signalCode ?? null;
      return { status: signal ? null : p.exitCode, signal };
    },
  };
}
