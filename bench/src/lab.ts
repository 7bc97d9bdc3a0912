/**
 * Thin additions to the lab cluster (src/lab) for the benchmark: start flanneld with our own
 * command line (compiled build, optional --cpu-prof) the way Cluster.startFlanneld does, and read
 * the timeline out of its log.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, LabNode } from '../../src/lab/cluster.ts';
import { ROOT } from './build.ts';

export const wallNow = (): number => performance.timeOrigin + performance.now();

/**
 * Starts flanneld on `node` with `argv` (node binary, flags, entry) and the cluster's flags; the
 * previous log is kept as flanneld-<label>.log so each run's log starts empty. Returns the pid
 * (the node's wrapper execs, so it is flanneld's own) and the wall-clock start time.
 */
export function startFlanneld(cluster: Cluster, node: LabNode, argv: readonly string[], extraArgs: readonly string[] = []): { pid: number; startedAt: number } {
  if (existsSync(node.logFile)) renameSync(node.logFile, join(node.dir, `flanneld-${Date.now()}.log`));
  const fd = openSync(node.logFile, 'a');
  const startedAt = wallNow();
  const { command: [cmd = 'ip', ...args], env } = cluster.flanneldSpawn(node, argv, extraArgs);
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], cwd: ROOT, env });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start flanneld on ${node.name}`);
  writeFileSync(join(node.dir, 'flanneld.pid'), String(child.pid));
  return { pid: child.pid, startedAt };
}

/** Wall-clock times (ms) of flanneld's milestones, from its text log (ISO timestamps, ms resolution). */
export interface LogTimeline {
  /** First line: the process is up and its modules are loaded. */
  firstLine?: number;
  /** subnet.env written: lease held, flanneld ready. */
  ready?: number;
  /** First "Subnet added": the lease snapshot (list + TTLs) has been read and decoded. */
  snapshot?: number;
  /** First / last "peer added": logged after the kernel pass that programmed the peers. */
  firstPeerAdded?: number;
  lastPeerAdded?: number;
  peersAdded: number;
  warnings: string[];
}

export function readTimeline(logFile: string): LogTimeline {
  const t: LogTimeline = { peersAdded: 0, warnings: [] };
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return t;
  }
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const at = Date.parse(line.slice(0, space));
    if (Number.isNaN(at)) continue;
    t.firstLine ??= at;
    if (t.ready === undefined && / wrote \//.test(line)) t.ready = at;
    else if (t.snapshot === undefined && line.includes('Subnet added:')) t.snapshot = at;
    else if (line.includes('peer added:')) {
      t.firstPeerAdded ??= at;
      t.lastPeerAdded = at;
      t.peersAdded++;
    }
    if ((/ (WARN|ERROR) /.test(line) || line.includes('"level":40') || line.includes('"level":50')) && t.warnings.length < 5) t.warnings.push(line.slice(0, 300));
  }
  return t;
}
