/**
 * @module cni/sys
 * The handful of system calls the plugin makes, behind one interface. A kubelet starts the plugin
 * for every pod, so start-up is most of its cost: in the compiled binary, bun's node:fs layer
 * costs ~2.7 ms to load, node:child_process ~1.3 ms, Buffer ~1.3 ms and bun:ffi ~2 ms, more than
 * all of our own work. So under bun the plugin uses only bun's own APIs; under node (tests,
 * `node dist/cli/flannel-cni.js`) node:fs, loaded on first use. Both throw errors shaped like
 * node's (`code` = errno name), so callers handle one kind.
 */
import { bunSys } from './bun-sys.ts';
import { nodeSys } from './node-sys.ts';

export interface Sys {
  /**
   * All of stdin as UTF-8, at most `limit` bytes: more is an error with code TOO_LARGE, found
   * after reading at most one chunk past the limit (an endless stream ends the read, not memory).
   */
  readStdin(limit: number): Promise<string>;
  /**
   * Starts reading stdin now, so that the read overlaps the rest of start-up; the next
   * readStdin with the same limit returns this read. Only where reading is asynchronous (the
   * compiled plugin); under node readStdin reads synchronously when it is called.
   */
  readonly prefetchStdin?: (limit: number) => void;
  /**
   * A whole file as UTF-8, at most `limit` bytes (TOO_LARGE as for stdin: `/dev/zero` is refused
   * after limit + one chunk). A FIFO or socket is refused with NOT_REGULAR before it is opened
   * (opening a FIFO nobody writes to would block forever); with `regularOnly`, so is everything
   * but a regular file or directory (opening some devices has effects: /dev/watchdog arms it).
   */
  readText(path: string, limit: number, options?: { regularOnly?: boolean }): Promise<string>;
  /**
   * Creates or truncates `path` and writes `data`; a new file gets mode 0600, missing parent
   * directories 0700.
   */
  writePrivate(path: string, data: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Names in a directory (GC only, so it may be slow to load). */
  readdir(path: string): string[];
  /** The first regular executable file `name` in `dirs`. */
  findExecutable(name: string, dirs: readonly string[]): string | undefined;
  /** Runs `path` with `stdin` as its input, our stderr as its own, and its stdout captured. */
  runCaptured(path: string, stdin: string, env: Record<string, string>): Captured;
  /** Writes all of `text` to our stdout (1) or stderr (2). */
  writeOut(fd: 1 | 2, text: string): Promise<void>;
  /**
   * Runs `path` with the file `stdinFile` as its stdin and our own stdout and stderr, so its
   * result reaches our caller untouched; returns when it ends. Absent where that is no cheaper
   * than capturing the output (node).
   */
  readonly runWithOurOutput?: (path: string, stdinFile: string, env: Record<string, string>) => ChildEnd;
}

export interface ChildEnd {
  status: number | null;
  signal: string | null;
}

export interface Captured extends ChildEnd {
  stdout: string;
}

/** Code of the error a bounded read throws when there is more than its limit (errno's "file too large"). */
export const TOO_LARGE = 'EFBIG';
/** Code of the error readText throws for a file it will not open (BSD errno's "inappropriate file type"). */
export const NOT_REGULAR = 'EFTYPE';

/** An error shaped like node's errno errors: `code`, and `path` when there is one. */
export function sysError(code: string, message: string, path?: string): Error & { code: string; path?: string } {
  const err = new Error(`${code}: ${message}`) as Error & { code: string; path?: string };
  err.code = code;
  if (path !== undefined) err.path = path;
  return err;
}

export function tooLarge(what: string, limit: number): Error {
  return sysError(TOO_LARGE, `${what} holds more than ${limit} bytes`);
}

export function notRegular(path: string): Error {
  return sysError(NOT_REGULAR, `${path} is not a regular file`, path);
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

let chosen: Sys | undefined;

/** bun's implementation in the compiled plugin, node's otherwise. */
export function sys(): Sys {
  chosen ??= bunSys() ?? nodeSys();
  return chosen;
}
