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
import { errnoCode, sys } from './sys/sys.ts';

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

/** The saved bytes, or undefined when there is no file (DEL after DEL, or ADD never ran). */
export async function loadDelegate(dataDir: string, containerId: string): Promise<string | undefined> {
  try {
    return await sys().readText(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export async function removeDelegate(dataDir: string, containerId: string): Promise<void> {
  try {
    await sys().unlink(savedDelegatePath(dataDir, containerId));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/** Entries of `dir`; none when it does not exist (yet). */
function namesIn(dir: string): string[] {
  try {
    return sys().readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
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
