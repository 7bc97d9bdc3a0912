/**
 * @module cni/saved-delegates
 * `<dataDir>/<containerID>`: the delegate configuration ADD used, replayed by DEL. Written before
 * the delegate runs (so a DEL after a failed ADD still cleans up), atomically (temp file, rename),
 * mode 0600 in a 0700 directory, and made durable (fsync of file and directory) before ADD
 * reports success. ADD overlaps that fsync with the delegate's run: same guarantee, ~3 ms less.
 * The caller has validated the container ID.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { canonicalJson } from './canonical-json.ts';
import { validateContainerId } from './env.ts';
import type { JsonObject } from './net-conf.ts';

const TMP_PREFIX = '.';
const TMP_SUFFIX = '.tmp';

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}

export function savedDelegatePath(dataDir: string, containerId: string): string {
  validateContainerId(containerId); // never build a path from an unchecked ID
  return join(dataDir, containerId);
}

export interface SavedDelegate {
  readonly path: string;
  /** What was written: the delegate gets exactly these bytes on stdin. */
  readonly bytes: string;
}

/** Writes the delegate for `containerId` atomically; durable only after syncDelegate(). */
export function writeDelegate(dataDir: string, containerId: string, delegate: JsonObject): SavedDelegate {
  const path = savedDelegatePath(dataDir, containerId);
  const bytes = canonicalJson(delegate);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tmp = join(dataDir, `${TMP_PREFIX}${containerId}.${process.pid}${TMP_SUFFIX}`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  return { path, bytes };
}

/** Flushes a written delegate and its directory entry to disk. */
export function syncDelegate(saved: SavedDelegate): void {
  for (const [p, flags] of [[saved.path, 'r'], [dirname(saved.path), 'r']] as const) {
    const fd = openSync(p, flags);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** writeDelegate + syncDelegate: the saved file is durable when this returns. */
export function saveDelegate(dataDir: string, containerId: string, delegate: JsonObject): string {
  const saved = writeDelegate(dataDir, containerId, delegate);
  syncDelegate(saved);
  return saved.bytes;
}

/** The saved bytes, or undefined when there is no file (DEL after DEL, or ADD never ran). */
export function loadDelegate(dataDir: string, containerId: string): string | undefined {
  try {
    return readFileSync(savedDelegatePath(dataDir, containerId), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export function removeDelegate(dataDir: string, containerId: string): void {
  try {
    unlinkSync(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/** Entries of `dir`; none when it does not exist (yet). */
function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

export interface SavedEntry {
  containerId: string;
  path: string;
}

/** Saved delegate files in `dataDir` (names that are valid container IDs); none when it does not exist. */
export function listDelegates(dataDir: string): SavedEntry[] {
  const names = namesIn(dataDir);
  const out: SavedEntry[] = [];
  for (const name of names) {
    try {
      validateContainerId(name);
    } catch {
      continue; // temp files and anything else that is not ours
    }
    out.push({ containerId: name, path: join(dataDir, name) });
  }
  return out;
}

/** Removes temp files left by an ADD that died between write and rename, if older than `olderThanMs`. */
export function removeStaleTempFiles(dataDir: string, olderThanMs: number, now = Date.now()): string[] {
  const names = namesIn(dataDir);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(TMP_PREFIX) || !name.endsWith(TMP_SUFFIX)) continue;
    const p = join(dataDir, name);
    try {
      if (now - statSync(p).mtimeMs < olderThanMs) continue;
      unlinkSync(p);
      removed.push(name);
    } catch {
      /* raced with its writer or another GC */
    }
  }
  return removed;
}
