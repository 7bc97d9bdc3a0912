/**
 * @module lab/fanout
 * Probing many targets from one network namespace with one or two processes, not one per pair:
 * ICMP with fping (every target in one run), TCP with one Node process that opens every
 * connection at once. This is what keeps a 100-node lab's checks within seconds.
 */
import { spawn } from 'node:child_process';
import { ECHO_PORT } from './probe.ts';

/** Runs `argv` in `ns` and collects its output; never rejects (a failure is in `code`). */
export function runIn(ns: string, argv: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * fping's verdict per target, from `fping -e` output ("<ip> is alive (0.10 ms)" / "<ip> is
 * unreachable"); a target fping did not mention is unreachable.
 */
export function parseFping(output: string, targets: readonly string[]): Map<string, boolean> {
  const alive = new Set<string>();
  for (const line of output.split('\n')) {
    const m = /^(\S+) is alive\b/.exec(line.trim());
    if (m?.[1]) alive.add(m[1]);
  }
  return new Map(targets.map((t) => [t, alive.has(t)]));
}

/** ICMP echo from `ns` to every target at once (one fping: 1 retry, 1.5 s per try). */
export async function pingAll(ns: string, targets: readonly string[]): Promise<Map<string, boolean>> {
  if (targets.length === 0) return new Map();
  const r = await runIn(ns, ['fping', '-e', '-r', '1', '-t', '1500', '-i', '1', ...targets]);
  if (r.code === null || (r.code > 1 && !/is (alive|unreachable)/.test(r.stdout))) {
    throw new Error(`fping in ${ns} failed (exit ${r.code ?? 'none'}): ${r.stderr.trim().split('\n')[0] ?? ''}; is fping installed (bash scripts/setup.sh)?`);
  }
  return parseFping(r.stdout, targets);
}

/**
 * The TCP prober: every exchange with the echo server (port ECHO_PORT) at once; prints "<ip> ok|fail"
 * lines. A function, not a constant: probe.ts and this module import each other.
 */
const tcpProber = (): string => `
const net = require('node:net');
const targets = process.argv.slice(1);
let left = targets.length;
const done = (ip, ok) => { process.stdout.write(ip + (ok ? ' ok\\n' : ' fail\\n')); if (--left === 0) process.exit(0); };
for (const ip of targets) {
  let got = '';
  let finished = false;
  const finish = (ok) => { if (!finished) { finished = true; c.destroy(); done(ip, ok); } };
  const c = net.connect(${ECHO_PORT}, ip, () => c.end('probe'));
  c.setTimeout(3000, () => finish(false));
  c.on('data', (d) => { got += d; });
  c.on('end', () => finish(got === 'echo:probe'));
  c.on('error', () => finish(false));
}
if (left === 0) process.exit(0);
`;

export function parseTcpProbe(output: string, targets: readonly string[]): Map<string, boolean> {
  const ok = new Set<string>();
  for (const line of output.split('\n')) {
    const [ip, verdict] = line.trim().split(' ');
    if (ip && verdict === 'ok') ok.add(ip);
  }
  return new Map(targets.map((t) => [t, ok.has(t)]));
}

/** A TCP exchange from `ns` with every target's echo server at once (one Node process). */
export async function tcpAll(ns: string, targets: readonly string[]): Promise<Map<string, boolean>> {
  if (targets.length === 0) return new Map();
  const r = await runIn(ns, [process.execPath, '-e', tcpProber(), ...targets]);
  return parseTcpProbe(r.stdout, targets);
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
