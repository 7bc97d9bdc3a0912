/**
 * @module lab/probe
 * Reachability probes between namespaces: ICMP with ping, TCP with a tiny echo server on port
 * 7000 (node itself, so nothing beyond Node and iputils is needed).
 */
import type { ChildProcess } from 'node:child_process';
import { runIn } from './fanout.ts';
import { nsExec, nsSpawn } from './netns.ts';

export const ECHO_PORT = 7000;
const ECHO_SERVER = `require('node:net').createServer((c) => c.once('data', (d) => c.end('echo:' + d))).listen(${ECHO_PORT});`;

const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Starts the echo server in `ns` (it dies with the namespace's processes) and returns once it
 * listens: a probe right after a pod is created must not race Node's start-up.
 */
export function startEchoServer(ns: string, timeoutMs = 15_000): ChildProcess {
  const child = nsSpawn(ns, process.execPath, ['-e', ECHO_SERVER], { stdio: 'ignore', detached: true });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (nsExec(ns, 'ss', ['-Hltn', `sport = :${ECHO_PORT}`]).trim() === '') {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the TCP echo server in ${ns} did not start listening on port ${ECHO_PORT}`);
    pause(25);
  }
  return child;
}

/** startEchoServer without blocking: many pods' servers start side by side. */
export async function startEchoServerAsync(ns: string, timeoutMs = 30_000): Promise<ChildProcess> {
  const child = nsSpawn(ns, process.execPath, ['-e', ECHO_SERVER], { stdio: 'ignore', detached: true });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await runIn(ns, ['ss', '-Hltn', `sport = :${ECHO_PORT}`], 10_000);
    if (r.stdout.trim() !== '') return child;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the TCP echo server in ${ns} did not start listening on port ${ECHO_PORT}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One TCP exchange from `ns` to `ip`:7000; returns what came back (throws on failure). */
export function tcpExchange(ns: string, ip: string, payload: string, timeoutMs = 3000): string {
  const client = `const c = require('node:net').connect(${ECHO_PORT}, '${ip}', () => c.end('${payload}')); c.setTimeout(${timeoutMs}, () => { console.error('timeout'); process.exit(1); }); c.on('data', (d) => process.stdout.write(d)); c.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return nsExec(ns, process.execPath, ['-e', client]);
}

export function ping(ns: string, ip: string, count = 1): void {
  nsExec(ns, 'ping', ['-c', String(count), '-W', '2', '-i', '0.2', ip]);
}

export function canPing(ns: string, ip: string): boolean {
  try {
    ping(ns, ip);
    return true;
  } catch {
    return false;
  }
}

export function canTcp(ns: string, ip: string): boolean {
  try {
    return tcpExchange(ns, ip, 'probe') === 'echo:probe';
  } catch {
    return false;
  }
}
