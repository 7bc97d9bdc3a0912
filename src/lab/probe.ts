/**
 * @module lab/probe
 * Reachability probes between namespaces: ICMP with ping, TCP with a tiny echo server on port
 * 7000 (node itself, so nothing beyond Node and iputils is needed).
 */
import type { ChildProcess } from 'node:child_process';
import { nsExec, nsSpawn } from './netns.ts';

export const ECHO_PORT = 7000;
const ECHO_SERVER = `require('node:net').createServer((c) => c.once('data', (d) => c.end('echo:' + d))).listen(${ECHO_PORT});`;

/** Starts the echo server in `ns` (it dies with the namespace's processes). */
export function startEchoServer(ns: string): ChildProcess {
  const child = nsSpawn(ns, process.execPath, ['-e', ECHO_SERVER], { stdio: 'ignore', detached: true });
  child.unref();
  return child;
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
