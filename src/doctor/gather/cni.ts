/**
 * @module doctor/gather/cni
 * The CNI configuration directory (files in the order the runtime reads them) and the plugin
 * directories (the executables in each).
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../errors/index.ts';
import type { CniFacts, Read } from '../facts.ts';

export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_CNI_BIN_DIRS = ['/opt/cni/bin', '/usr/lib/cni'] as const;
const CONF_EXTENSIONS = /\.(conf|conflist|json)$/;

async function attempt<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { value: await fn() };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? `${(err as NodeJS.ErrnoException).path ?? 'it'} does not exist` : describeError(err) };
  }
}

/** Sorted by name byte-wise, as libcni (Go's sort.Strings) reads them. */
function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function confFiles(dir: string): Promise<Array<{ name: string; text: string }>> {
  const names = (await readdir(dir)).filter((n) => CONF_EXTENSIONS.test(n)).sort(byName);
  const files = await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      if (!(await stat(path)).isFile()) return undefined;
      return { name, text: await readFile(path, 'utf8') };
    }),
  );
  return files.filter((f): f is { name: string; text: string } => f !== undefined);
}

async function executables(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort(byName);
  const ok = await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const isFile = await stat(path).then((s) => s.isFile(), () => false);
      return isFile && (await access(path, constants.X_OK).then(() => true, () => false)) ? name : undefined;
    }),
  );
  return ok.filter((n): n is string => n !== undefined);
}

export async function gatherCni(confDir: string, binDirs: readonly string[]): Promise<CniFacts> {
  const [files, bins] = await Promise.all([attempt(() => confFiles(confDir)), Promise.all(binDirs.map(async (dir) => ({ dir, plugins: await attempt(() => executables(dir)) })))]);
  return { confDir, confFiles: files, binDirs: bins };
}
