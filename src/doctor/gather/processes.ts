/**
 * @module doctor/gather/processes
 * The flanneld processes in this network namespace, from /proc: a process counts when its
 * /proc/<pid>/ns/net is the same namespace as doctor's own. A child flanneld has just forked to
 * run a command (iptables-restore every few seconds) shows flanneld's command line until it
 * execs: a flanneld whose parent is a flanneld is such a child, not a second daemon.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { flanneldArgsOf, parseEnviron, type FlanneldProcess } from './options.ts';

interface Found extends FlanneldProcess {
  readonly ppid: number;
}

/** The parent pid from /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may hold spaces and parentheses). */
export function parentPidOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function readProcess(procDir: string, pid: number, ownNet: string): Promise<Found | undefined> {
  try {
    const argv = (await readFile(`${procDir}/${pid}/cmdline`, 'utf8')).split('\0');
    if (argv.at(-1) === '') argv.pop();
    if (flanneldArgsOf(argv) === undefined) return undefined;
    if ((await readlink(`${procDir}/${pid}/ns/net`)) !== ownNet) return undefined;
    // environ is readable by root (and the process's owner) only; without it, the flags alone.
    const env = await readFile(`${procDir}/${pid}/environ`, 'utf8').then(parseEnviron, () => ({}));
    const ppid = parentPidOf(await readFile(`${procDir}/${pid}/stat`, 'utf8'));
    return { pid, argv, env, ppid };
  } catch {
    return undefined; // exited while we looked, or not ours to read
  }
}

/** flanneld processes sharing doctor's network namespace, by pid. Never throws for one unreadable process. */
export async function findFlanneldProcesses(procDir = '/proc'): Promise<FlanneldProcess[]> {
  const ownNet = await readlink(`${procDir}/self/ns/net`);
  const pids = (await readdir(procDir)).filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => pid !== process.pid);
  const found = (await Promise.all(pids.map((pid) => readProcess(procDir, pid, ownNet)))).filter((p): p is Found => p !== undefined);
  const daemons = new Set(found.map((p) => p.pid));
  return found
    .filter((p) => !daemons.has(p.ppid))
    .map(({ pid, argv, env }) => ({ pid, argv, env }))
    .sort((a, b) => a.pid - b.pid);
}
