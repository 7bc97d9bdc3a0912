/**
 * @module doctor/gather/modules
 * Kernel modules loaded (/proc/modules) or built in (a /sys/module/<name> directory without a
 * /proc/modules line).
 */
import { access, readFile } from 'node:fs/promises';
import { MODULES } from '../facts.ts';

export function parseProcModules(text: string): string[] {
  return text.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

export async function readModules(wanted: readonly string[] = MODULES): Promise<string[]> {
  const loaded = new Set(parseProcModules(await readFile('/proc/modules', 'utf8').catch(() => '')));
  const present = await Promise.all(wanted.map((m) => access(`/sys/module/${m}`).then(() => m, () => undefined)));
  for (const m of present) if (m) loaded.add(m);
  return [...loaded].sort();
}
