/**
 * Runs flanneld as a real process inside a network namespace and follows its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/lab/netns.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FLANNELD_ENTRY = [`--import`, 'tsx', `${ROOT}src/cli/flanneld.ts`];

export interface FlanneldProcess {
  readonly child: ChildProcess;
  /** Every line written to stdout/stderr so far. */
  readonly lines: string[];
  /** Resolves with the first line matching `re` (already seen or future); rejects on timeout or exit. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export interface SpawnFlanneldOptions {
  netns?: string;
  /** With `netns`: the node's own /run (a Machine), so /run/flannel/* and wireguard-go's sockets are per node. */
  runDir?: string;
  args: string[];
  env?: Record<string, string>;
  /** Program entry; defaults to flanneld. */
  entry?: string[];
}

export function spawnFlanneld(o: SpawnFlanneldOptions): FlanneldProcess {
  const argv = [process.execPath, ...(o.entry ?? FLANNELD_ENTRY), ...o.args];
  // In a namespace, `env` gives flanneld alone its environment (a PATH of its own must not hide ip, unshare, sh from the wrappers).
  const inNs = ['/usr/bin/env', ...Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`), ...argv];
  const wrapped = o.netns ? (o.runDir ? new Machine(o.netns, o.runDir).argv(inNs[0] ?? 'env', inNs.slice(1)) : ['ip', 'netns', 'exec', o.netns, ...inNs]) : argv;
  const [cmd = 'node', ...args] = wrapped;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.netns ? process.env : { ...process.env, ...o.env }, cwd: ROOT });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const onData = (buf: Buffer, carry: { rest: string }): void => {
    const text = carry.rest + buf.toString('utf8');
    const parts = text.split('\n');
    carry.rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w && w.re.test(line)) {
          waiters.splice(i, 1);
          w.resolve(line);
        }
      }
    }
  };
  const outCarry = { rest: '' };
  const errCarry = { rest: '' };
  child.stdout?.on('data', (b: Buffer) => onData(b, outCarry));
  child.stderr?.on('data', (b: Buffer) => onData(b, errCarry));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const output = (): string => lines.join('\n');
  return {
    child,
    lines,
    exited,
    output,
    waitForLine(re, timeoutMs = 15_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output:\n${output()}`)), timeoutMs);
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then((st) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(new Error(`flanneld exited (${st.code ?? st.signal}) before logging ${re}; output:\n${output()}`));
          }
        });
      });
    },
    async stop(graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const st = await exited;
        clearTimeout(t);
        return st;
      }
      return exited;
    },
  };
}
