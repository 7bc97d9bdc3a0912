/** Resource use of a process from /proc (the process may live in any namespace: /proc is shared). */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every Linux we run on). */
const CLK_TCK = 100;

export interface ProcStats {
  readonly rssMiB: number;
  /** The part of RSS that is anonymous memory (heaps, stacks): what the process itself allocated. */
  readonly rssAnonMiB: number;
  /** The part mapped from files, mostly node's own binary (code and read-only data). */
  readonly rssFileMiB: number;
  /** Peak RSS so far. */
  readonly hwmMiB: number;
  /** utime + stime since the process started. */
  readonly cpuSeconds: number;
  readonly threads: number;
}

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): state is field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const threads = /^Threads:\s+(\d+)/m.exec(status);
  return {
    rssMiB: kib(status, 'VmRSS') / 1024,
    rssAnonMiB: kib(status, 'RssAnon') / 1024,
    rssFileMiB: kib(status, 'RssFile') / 1024,
    hwmMiB: kib(status, 'VmHWM') / 1024,
    cpuSeconds: (utime + stime) / CLK_TCK,
    threads: threads ? Number(threads[1]) : Number.NaN,
  };
}
