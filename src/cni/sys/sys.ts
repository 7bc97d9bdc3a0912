/**
 * @module cni/sys
 * The handful of system calls the plugin makes, behind one interface. A kubelet starts the plugin
 * for every pod, so start-up is most of its cost: under bun (the shipped binary) the node:fs
 * compatibility module alone costs ~2.7 ms to load and node:child_process ~1.3 ms, so the bun
 * implementation uses bun's own APIs and libc through bun:ffi instead. Under node (tests,
 * `node dist/cli/flannel-cni.js`) the node implementation is used. Both throw errors shaped like
 * node's (`code` = errno name), so callers handle one kind.
 */
import { bunSys } from './bun-sys.ts';
import { nodeSys } from './node-sys.ts';

export interface Sys {
  /** All of stdin as UTF-8. */
  readStdin(): Promise<string>;
  /** A whole file as UTF-8. */
  readText(path: string): string;
  /** Like `mkdir -p`, new directories get `mode`. */
  mkdirp(path: string, mode: number): void;
  /** Creates or truncates `path` (new files get `mode`) and writes `data`. */
  writeText(path: string, data: string, mode: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  readdir(path: string): string[];
  mtimeMs(path: string): number;
  /** The first regular executable file `name` in `dirs`. */
  findExecutable(name: string, dirs: readonly string[]): string | undefined;
  /** Writes all of `text` to fd 1 or 2. */
  writeOut(fd: 1 | 2, text: string): void;
  /**
   * Replaces this process with `path`, `stdin` on its fd 0 and `env` as its environment; only
   * returns by throwing. Absent where the runtime cannot exec (node 20). `stdin` must fit in
   * EXEC_STDIN_MAX_BYTES: it is handed over through a pipe that has no reader yet.
   */
  readonly execWithStdin?: (path: string, stdin: string, env: Record<string, string>) => never;
}

/** What a Linux pipe holds without a reader (64 KiB by default), with a margin. */
export const EXEC_STDIN_MAX_BYTES = 60 * 1024;

/** An error shaped like node's fs errors. */
export class SysError extends Error {
  constructor(
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    readonly path: string,
    description: string,
  ) {
    super(`${code}: ${description}, ${syscall} '${path}'`);
  }
  override get name(): string {
    return 'SysError';
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

let chosen: Sys | undefined;

/** bun's implementation in the compiled plugin, node's otherwise (or when libc cannot be loaded). */
export function sys(): Sys {
  chosen ??= ('Bun' in globalThis ? bunSys() : undefined) ?? nodeSys();
  return chosen;
}

/** For tests: run the plugin code against another implementation. */
export function setSys(s: Sys | undefined): void {
  chosen = s;
}
