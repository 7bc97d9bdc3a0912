/**
 * @module doctor/gather/sysctls
 * The sysctls doctor looks at, from /proc/sys (per network namespace for net.*).
 */
import { readFile } from 'node:fs/promises';
import { SYSCTLS } from '../facts.ts';

/** "net.ipv4.ip_forward" → "/proc/sys/net/ipv4/ip_forward". */
export function sysctlPath(name: string, procSys = '/proc/sys'): string {
  return `${procSys}/${name.replace(/\./g, '/')}`;
}

/** name → value; a sysctl whose file does not exist (module not loaded) is left out. */
export async function readSysctls(names: readonly string[] = SYSCTLS, procSys = '/proc/sys'): Promise<Record<string, string>> {
  const values = await Promise.all(names.map((n) => readFile(sysctlPath(n, procSys), 'utf8').then((v) => v.trim(), () => undefined)));
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    const v = values[i];
    if (v !== undefined) out[n] = v;
  });
  return out;
}
