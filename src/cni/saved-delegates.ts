/**
 * @module cni/saved-delegates
 * `<dataDir>/<containerID>`: the delegate configuration ADD used, replayed by DEL. Written before
 * the delegate runs (so a DEL after a failed ADD still cleans up), mode 0600 in a 0700
 * directory, in place and not fsynced, as upstream writes it: a DEL that finds a torn file drops
 * it (del.ts), a lost one makes DEL a no-op, and GC (CNI 1.1.0) removes what is left. A rename
 * or fsync here would cost every ADD more than the rest of our work (see sys/sys.ts).
 * The caller has validated the container ID.
 */
import { canonicalJson } from './canonical-json.ts';
import { validateContainerId } from './env.ts';
import type { JsonObject } from './net-conf.ts';
import { joinPath as join } from './sys/path.ts';
import { SAVED_DELEGATE_LIMIT, sizeText } from './limits.ts';
import { errnoCode, NOT_REGULAR, sys, TOO_LARGE } from './sys/sys.ts';

export function savedDelegatePath(dataDir: string, containerId: string): string {
  validateContainerId(containerId); // never build a path from an unchecked ID
  return join(dataDir, containerId);
}

export interface SavedDelegate {
  readonly path: string;
  /** What was written: the delegate gets exactly these bytes on stdin. */
  readonly bytes: string;
}

/** Writes the delegate for `containerId`. */
export async function writeDelegate(dataDir: string, containerId: string, delegate: JsonObject): Promise<SavedDelegate> {
  const path = savedDelegatePath(dataDir, containerId);
  const bytes = canonicalJson(delegate);
  await sys().writePrivate(path, bytes);
  return { path, bytes };
}

/** What `<dataDir>/<containerID>` holds, as far as DEL and GC are concerned. */
export type SavedLookup =
  | { readonly kind: 'absent' }
  | { readonly kind: 'saved'; readonly bytes: string }
  /** Something ADD never writes (a directory, a FIFO, a device, more than SAVED_DELEGATE_LIMIT): leave it alone, unopened where possible. */
  | { readonly kind: 'foreign'; readonly why: string };

/** Read failures meaning "there is nothing there": DEL after DEL, ADD never got that far, no dataDir. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);
const FOREIGN: Readonly<Record<string, string>> = {
  [TOO_LARGE]: `it holds more than ${sizeText(SAVED_DELEGATE_LIMIT)}`,
  [NOT_REGULAR]: 'it is not a regular file',
  EISDIR: 'it is a directory',
  ENXIO: 'it is a socket or device',
};

/**
 * The saved bytes (read at most SAVED_DELEGATE_LIMIT), `absent` when there is no file, `foreign`
 * for what ADD cannot have written; other read failures (EACCES, EIO) are thrown.
 */
export async function loadDelegate(dataDir: string, containerId: string): Promise<SavedLookup> {
  try {
    // regularOnly: the name comes from the runtime (DEL) or a directory listing (GC); nothing but a
    // regular file is opened, whatever dataDir holds.
    return { kind: 'saved', bytes: await sys().readText(savedDelegatePath(dataDir, containerId), SAVED_DELEGATE_LIMIT, { regularOnly: true }) };
  } catch (err) {
    const code = errnoCode(err) ?? '';
    if (ABSENT.has(code)) return { kind: 'absent' };
    const why = FOREIGN[code];
    if (why !== undefined) return { kind: 'foreign', why };
    throw err;
  }
}

export async function removeDelegate(dataDir: string, containerId: string): Promise<void> {
  try {
    await sys().unlink(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (!ABSENT.has(errnoCode(err) ?? '')) throw err;
  }
}

/** Entries of `dir`; none when it does not exist (yet). */
function namesIn(dir: string): string[] {
  try {
    return sys().readdir(dir);
  } catch (err) {
    if (ABSENT.has(errnoCode(err) ?? '')) return [];
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
      continue; // not a file of ours
    }
    out.push({ containerId: name, path: join(dataDir, name) });
  }
  return out;
}
