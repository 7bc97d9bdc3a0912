/**
 * @module cni/saved-delegates
 * `<dataDir>/<containerID>`: the delegate configuration ADD used, replayed by DEL. Written before
 * the delegate runs (so a DEL after a failed ADD still cleans up), atomically (temp file, rename),
 * mode 0600 in a 0700 directory. Not fsynced, like upstream's plain write: a flush made every ADD
 * wait for the file system's journal (~0.6 ms idle, several ms on a node whose etcd is writing),
 * and after a crash the pod's veth is gone anyway; a lost file makes DEL a no-op, and GC
 * (CNI 1.1.0) removes what is left.
 * The caller has validated the container ID.
 */
import { canonicalJson } from './canonical-json.ts';
import { validateContainerId } from './env.ts';
import type { JsonObject } from './net-conf.ts';
import { joinPath as join } from './sys/path.ts';
import { errnoCode, sys } from './sys/sys.ts';

const TMP_PREFIX = '.';
const TMP_SUFFIX = '.tmp';

function isErrno(err: unknown, code: string): boolean {
  return errnoCode(err) === code;
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

/** Writes the delegate for `containerId` atomically (temp file, rename). */
export function writeDelegate(dataDir: string, containerId: string, delegate: JsonObject): SavedDelegate {
  const path = savedDelegatePath(dataDir, containerId);
  const bytes = canonicalJson(delegate);
  const s = sys();
  s.mkdirp(dataDir, 0o700);
  const tmp = join(dataDir, `${TMP_PREFIX}${containerId}.${process.pid}${TMP_SUFFIX}`);
  s.writeText(tmp, bytes, 0o600);
  try {
    s.rename(tmp, path);
  } catch (err) {
    try {
      s.unlink(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  return { path, bytes };
}

/** The saved bytes, or undefined when there is no file (DEL after DEL, or ADD never ran). */
export function loadDelegate(dataDir: string, containerId: string): string | undefined {
  try {
    return sys().readText(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export function removeDelegate(dataDir: string, containerId: string): void {
  try {
    sys().unlink(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/** Entries of `dir`; none when it does not exist (yet). */
function namesIn(dir: string): string[] {
  try {
    return sys().readdir(dir);
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
      if (now - sys().mtimeMs(p) < olderThanMs) continue;
      sys().unlink(p);
      removed.push(name);
    } catch {
      /* raced with its writer or another GC */
    }
  }
  return removed;
}
