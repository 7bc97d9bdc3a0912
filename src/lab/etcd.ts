/**
 * @module lab/etcd
 * An etcd for the lab, running inside the lab's control-plane namespace with its data in the
 * lab's state directory.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { nsExec } from './netns.ts';

export interface LabEtcd {
  readonly endpoint: string;
  readonly pid: number;
}

export async function startLabEtcd(o: { ns: string; ip: string; stateDir: string; timeoutMs?: number }): Promise<LabEtcd> {
  const dataDir = join(o.stateDir, 'etcd');
  const logFd = openSync(join(o.stateDir, 'etcd.log'), 'a');
  const endpoint = `http://${o.ip}:2379`;
  const child = spawn(
    'ip',
    [
      'netns', 'exec', o.ns, 'etcd',
      '--name', 'lab', '--data-dir', dataDir,
      '--listen-client-urls', `${endpoint},http://127.0.0.1:2379`, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:2380`, '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'lab=http://127.0.0.1:2380',
      '--log-level', 'warn', '--logger', 'zap',
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start etcd (is etcd-server installed?)');
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  for (;;) {
    try {
      nsExec(o.ns, 'etcdctl', [`--endpoints=${endpoint}`, '--command-timeout=1s', 'endpoint', 'health']);
      return { endpoint, pid };
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`etcd did not become healthy at ${endpoint} (see ${join(o.stateDir, 'etcd.log')})`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export function labEtcdctl(ns: string, endpoint: string, args: string[], input?: string): string {
  return nsExec(ns, 'etcdctl', [`--endpoints=${endpoint}`, '--command-timeout=3s', ...args], input);
}
