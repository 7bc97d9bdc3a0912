/**
 * A throwaway single-member etcd (Debian's /usr/bin/etcd) for integration tests: temp data dir,
 * free ports, healthy before it is handed out. etcd runs under a small shell guard that reads
 * our stdin: when this process dies for any reason (even SIGKILL) the pipe closes and the guard
 * kills etcd, so no etcd outlives the test run.
 *
 * Everything here has to hold on a loaded 2-core CI machine (load average 16 and more): start-up
 * waits up to a minute for etcd to answer a health check, etcdctl gets generous dial and command
 * timeouts, and a transient failure (deadline exceeded, connection refused, no leader yet) is
 * retried with backoff before the call fails. A final failure names every attempt and ends with
 * etcd's own log tail.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCI } from './privileges.ts';

export const ETCD_BIN = '/usr/bin/etcd';
export const ETCDCTL_BIN = '/usr/bin/etcdctl';

export function etcdAvailable(): boolean {
  return existsSync(ETCD_BIN) && existsSync(ETCDCTL_BIN);
}

/** A node:test `skip` value for suites that need etcd: false when it is installed; under CI its absence is an error. */
export function skipUnlessEtcd(what: string): string | false {
  if (etcdAvailable()) return false;
  const reason = '/usr/bin/etcd or /usr/bin/etcdctl is missing (apt-get install etcd-server etcd-client)';
  if (inCI) throw new Error(`CI=true: ${reason}`);
  console.log(`# SKIP ${what}: ${reason}`);
  return reason;
}

export interface StartEtcdOptions {
  /** Run inside this network namespace (needs root). */
  netns?: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Give up when not healthy within this many ms (default 60000). */
  startTimeoutMs?: number;
  /** Serve clients over TLS with a throwaway CA, requiring a client certificate signed by it. */
  tls?: boolean;
  /** Enable etcd authentication with this root password (etcdctl through the handle logs in as root). */
  rootPassword?: string;
}

/** Client-side TLS files (PEM paths). */
export interface EtcdTLSFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdHandle {
  /** e.g. "http://127.0.0.1:34567". */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly netns: string | undefined;
  /** Stops etcd (SIGTERM, then SIGKILL) and keeps the data dir. */
  halt(): Promise<void>;
  /** Starts etcd again on the same ports and data dir and waits until it is healthy. */
  resume(): Promise<void>;
  /** halt() then resume(). */
  restart(): Promise<void>;
  /**
   * Freezes the etcd process itself (SIGSTOP, not its shell guard): its sockets stay open and
   * accept connections, but nothing is answered until unpause(). Models a hung datastore.
   */
  pause(): Promise<void>;
  /** Lets a paused etcd run again (SIGCONT). A no-op when it is not paused. */
  unpause(): Promise<void>;
  /** Stops etcd and removes its data dir (a paused etcd is continued first). Safe to call twice. */
  stop(): Promise<void>;
  /** Last lines etcd wrote to stderr (for failure messages). */
  logTail(): string;
  /** Client certificate, key and CA when started with `tls`. */
  readonly tls: EtcdTLSFiles | undefined;
  /** etcdctl against this etcd (its netns, TLS files and root login applied; retried like etcdctl()). */
  ctl(args: string[], options?: { input?: string; user?: string; timeoutMs?: number; attempts?: number }): Promise<string>;
}

// $1 is a file to write etcd's PID to, the rest etcd and its flags; fd 3 keeps our stdin so the
// background reader sees its EOF. SIGCONT after SIGTERM, so a paused (SIGSTOPped) etcd also ends.
const GUARD = [
  'p=$1; shift',
  'exec 3<&0',
  '"$@" </dev/null &',
  'c=$!',
  'echo $c > "$p"',
  '( read _ <&3; kill -TERM $c 2>/dev/null; kill -CONT $c 2>/dev/null; sleep 8; kill -KILL $c 2>/dev/null ) &',
  'w=$!',
  'wait $c; s=$?',
  'kill $w 2>/dev/null',
  'exit $s',
].join('\n');

const TMP_PREFIX = 'flt-etcd-';

const live = new Set<{ child: ChildProcess | undefined; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      try {
        entry.child?.kill('SIGKILL');
      } catch {
        /* gone */
      }
      rmSync(entry.dir, { recursive: true, force: true });
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp dirs left by test processes that were SIGKILLed (their etcd is gone with them). */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner'), 'utf8'));
      if (owner > 0 && !pidAlive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      /* being created by another process, or not ours */
    }
  }
}

async function freePort(host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

function withNetns(netns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
}

export interface EtcdctlOptions {
  netns?: string;
  input?: string;
  /** Kill one etcdctl run after this many ms (default 45000: its dial and command timeouts plus room to start). */
  timeoutMs?: number;
  /** etcdctl's --command-timeout in seconds (default 20). */
  commandTimeoutS?: number;
  /** etcdctl's --dial-timeout in seconds (default 10). */
  dialTimeoutS?: number;
  /** Runs in all, counting the first, while failures are transient (default 4; 1: no retry). */
  attempts?: number;
  tls?: EtcdTLSFiles;
  /** "name:password" */
  user?: string;
}

/** Log tails of the etcds started here, by client URL, for failure messages of etcdctl(). */
const logTails = new Map<string, () => string>();

/**
 * Failures that say etcd did not answer in time or not yet (a busy machine, etcd still starting
 * or electing itself), as opposed to an answer such as "key not found" or "permission denied".
 */
const TRANSIENT = /context deadline exceeded|DeadlineExceeded|deadline-exceeded|connection refused|connect: connection reset|transport is closing|error reading from server|etcdserver: (request timed out|leader changed|too many requests|no leader)|Unavailable|TransientFailure|killed by the harness after/i;

/**
 * Whether a transient failure of `args` may be retried: reads and plain writes can run twice with
 * the same result; commands whose second run would answer differently (`del` counts what it
 * deleted, `lease grant` makes a new lease, `txn` compares) are retried only when etcd was not
 * reached at all (connection refused), so a retry never hides or fakes a result.
 */
function retrySafe(args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  const [cmd, sub] = words;
  switch (cmd) {
    case 'get':
    case 'put':
    case 'endpoint':
    case 'member':
    case 'version':
    case 'check':
      return true;
    case 'lease':
      return sub === 'list' || sub === 'timetolive' || sub === 'keep-alive';
    case 'user':
    case 'role':
      // Creating a user or role twice is answered "already exists", which withAlreadyDone() accepts.
      return sub !== 'delete' && sub !== 'revoke' && sub !== 'revoke-permission' && sub !== 'passwd';
    case 'auth':
      return sub === 'enable' || sub === 'status';
    default:
      return false;
  }
}

/** After an attempt that may have been applied, "already exists" from a retried add means it was. */
function alreadyDone(args: readonly string[], stderr: string): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  return (words[0] === 'user' || words[0] === 'role') && words[1] === 'add' && /already exists/.test(stderr);
}

interface RunResult {
  ok: boolean;
  stdout: string;
  error: string;
}

/**
 * etcdctl's stderr in short: its "Error: ..." lines, with the distinct `error` fields of the JSON
 * warnings its gRPC client logs before them (those say why: refused, no connection, timeout).
 */
function summariseStderr(stderr: string): string {
  const errors: string[] = [];
  const causes = new Set<string>();
  for (const line of stderr.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (line.startsWith('{')) {
      try {
        const cause = (JSON.parse(line) as { error?: unknown }).error;
        if (typeof cause === 'string') causes.add(cause);
      } catch {
        errors.push(line);
      }
    } else if (!errors.includes(line)) errors.push(line);
  }
  const why = [...causes].join('; ');
  return [errors.join(' ') || '(no message)', why ? `(${why})` : ''].filter(Boolean).join(' ');
}

function runEtcdctlOnce(cmd: string, argv: string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, argv, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, stdout, error: '' });
      const killed = err.killed || err.signal === 'SIGTERM' ? ` (killed by the harness after ${timeoutMs} ms)` : '';
      resolve({ ok: false, stdout, error: `${stderr.trim() ? summariseStderr(stderr) : err.message}${killed}` });
    });
    // A child that dies before reading its input must not crash the test process with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/**
 * Runs etcdctl (API v3) against `endpoint`; resolves with stdout, rejects with stderr. Transient
 * failures are retried (see retrySafe) with backoff 0.5, 1, 2 s; the final error lists each
 * attempt and, for an etcd started by this harness, ends with etcd's log tail.
 */
export async function etcdctl(endpoint: string, args: string[], options: EtcdctlOptions = {}): Promise<string> {
  const commandS = options.commandTimeoutS ?? 20;
  const dialS = options.dialTimeoutS ?? 10;
  const flags = [`--endpoints=${endpoint}`, `--command-timeout=${commandS}s`, `--dial-timeout=${dialS}s`];
  if (options.tls) flags.push(`--cacert=${options.tls.caFile}`, `--cert=${options.tls.certFile}`, `--key=${options.tls.keyFile}`);
  if (options.user) flags.push(`--user=${options.user}`);
  const [cmd, argv] = withNetns(options.netns, ETCDCTL_BIN, [...flags, ...args]);
  const timeoutMs = options.timeoutMs ?? (commandS + dialS + 15) * 1000;
  const attempts = Math.max(1, options.attempts ?? 4);
  const safe = retrySafe(args);
  const errors: string[] = [];
  let mayHaveApplied = false;
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    const r = await runEtcdctlOnce(cmd, argv, options.input, timeoutMs);
    if (r.ok) return r.stdout;
    if (mayHaveApplied && alreadyDone(args, r.error)) return r.stdout;
    errors.push(`attempt ${attempt} after ${Date.now() - started} ms: ${r.error}`);
    const transient = TRANSIENT.test(r.error);
    // No connection was ever made: nothing reached etcd, any command may run again.
    const refused = /connection refused|all SubConns are in TransientFailure/i.test(r.error);
    if (attempt >= attempts || !transient || !(safe || refused)) break;
    mayHaveApplied ||= !refused;
    await delay(Math.min(500 * 2 ** (attempt - 1), 2000));
  }
  const tail = logTails.get(endpoint)?.().trim().slice(-1500);
  const detail = errors.length === 1 ? (errors[0] ?? '').replace(/^attempt 1 after \d+ ms: /, '') : errors.join('; ');
  throw new Error(`etcdctl ${args.join(' ')} failed: ${detail}${tail ? `\netcd's log tail:\n${tail}` : ''}`);
}

/** A throwaway CA with a server certificate for `host` and a client certificate, in `dir`. */
function makeCertificates(dir: string, host: string): { server: EtcdTLSFiles; client: EtcdTLSFiles } {
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=flt-test-ca');
  const san = /^[0-9.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`;
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=${san},DNS:localhost\nextendedKeyUsage=serverAuth\n`);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'etcd'],
    ['client', 'flt-client'],
  ] as const) {
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  const files = (name: string): EtcdTLSFiles => ({ caFile: join(dir, 'ca.crt'), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });
  return { server: files('server'), client: files('client') };
}

async function delay(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdHandle> {
  if (!etcdAvailable()) throw new Error(`${ETCD_BIN} or ${ETCDCTL_BIN} is missing: apt-get install etcd-server etcd-client`);
  installExitHook();
  sweepOrphans();
  const host = options.host ?? '127.0.0.1';
  const netns = options.netns;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), TMP_PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  const dataDir = join(dir, 'data');
  const pidFile = join(dir, 'etcd.pid');
  const entry: { child: ChildProcess | undefined; dir: string } = { child: undefined, dir };
  live.add(entry);
  let tail = '';
  let clientPort = 0;
  let peerPort = 0;
  let exited: Promise<void> = Promise.resolve();
  let paused = false;

  const discard = (): void => {
    logTails.delete(clientURL());
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };
  let certs: { server: EtcdTLSFiles; client: EtcdTLSFiles } | undefined;
  try {
    certs = options.tls ? makeCertificates(dir, host) : undefined;
  } catch (err) {
    discard();
    throw new Error(`cannot make test certificates with openssl: ${(err as Error).message}`, { cause: err });
  }
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const url = (port: number, tls = false): string => `${tls ? 'https' : 'http'}://${bracketed}:${port}`;
  const clientURL = (): string => url(clientPort, certs !== undefined);
  let rootUser: string | undefined;
  type CtlOptions = { input?: string; user?: string; timeoutMs?: number; attempts?: number; commandTimeoutS?: number; dialTimeoutS?: number };
  const ctl = (args: string[], o: CtlOptions = {}): Promise<string> =>
    etcdctl(clientURL(), args, {
      ...(netns ? { netns } : {}),
      ...(certs ? { tls: certs.client } : {}),
      ...(o.user ?? rootUser ? { user: o.user ?? rootUser } : {}),
      ...(o.input !== undefined ? { input: o.input } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
      ...(o.commandTimeoutS !== undefined ? { commandTimeoutS: o.commandTimeoutS } : {}),
      ...(o.dialTimeoutS !== undefined ? { dialTimeoutS: o.dialTimeoutS } : {}),
    });

  const launch = (): void => {
    const peer = url(peerPort);
    const client = clientURL();
    const tlsArgs = certs
      ? [`--cert-file=${certs.server.certFile}`, `--key-file=${certs.server.keyFile}`, `--trusted-ca-file=${certs.server.caFile}`, '--client-cert-auth']
      : [];
    const args = [
      ...tlsArgs,
      '--name=flt',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=flt=${peer}`,
      '--logger=zap',
      '--log-level=warn',
      // Test passwords need no strength; bcrypt's default cost makes every authenticated etcdctl
      // call spend ~100 ms of CPU in etcd (seconds on a loaded machine).
      '--bcrypt-cost=4',
    ];
    rmSync(pidFile, { force: true });
    paused = false;
    const [cmd, argv] = withNetns(netns, 'sh', ['-c', GUARD, 'etcd-guard', pidFile, ETCD_BIN, ...args]);
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    entry.child = child;
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
  };

  const waitHealthy = async (): Promise<void> => {
    const started = Date.now();
    const deadline = started + startTimeoutMs;
    const child = entry.child;
    let last = '';
    let probes = 0;
    while (Date.now() < deadline) {
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`etcd exited during start-up (${child?.signalCode ?? `exit code ${child?.exitCode}`}): ${tail.slice(-1500)}`);
      }
      // One probe at a time, each bounded by what is left of the deadline; the loop is the retry.
      const leftS = Math.max(1, Math.floor((deadline - Date.now()) / 1000));
      probes++;
      try {
        await ctl(['endpoint', 'health'], { attempts: 1, commandTimeoutS: Math.min(10, leftS), dialTimeoutS: Math.min(5, leftS), timeoutMs: Math.min(30_000, leftS * 1000 + 5000) });
        return;
      } catch (err) {
        last = (err as Error).message.replace(/\netcd's log tail:[\s\S]*$/, '');
      }
      await delay(Math.min(100 * probes, 1000));
    }
    throw new Error(`etcd not healthy after ${Date.now() - started} ms (${probes} health checks; last: ${last}); etcd's log tail:\n${tail.slice(-1500)}`);
  };

  const running = (): boolean => {
    const child = entry.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  /** etcd's own PID (the guard writes it right after forking etcd). */
  const etcdPid = async (): Promise<number> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0) return pid;
      } catch {
        /* not written yet */
      }
      if (Date.now() > deadline) throw new Error(`etcd guard wrote no PID to ${pidFile}`);
      await delay(20);
    }
  };

  const signalEtcd = async (signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> => {
    const pid = await etcdPid();
    process.kill(pid, signal);
  };

  const pause = async (): Promise<void> => {
    if (!running()) throw new Error('etcd is not running (halted or stopped): cannot pause it');
    await signalEtcd('SIGSTOP');
    paused = true;
  };

  const unpause = async (): Promise<void> => {
    if (!paused) return;
    paused = false;
    if (running()) await signalEtcd('SIGCONT');
  };

  const halt = async (): Promise<void> => {
    const child = entry.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A stopped process does not act on SIGTERM until continued.
    await unpause().catch(() => undefined);
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  let attempts = 0;
  for (;;) {
    clientPort = netns ? randomPort() : await freePort(host);
    peerPort = netns ? randomPort() : await freePort(host);
    if (peerPort === clientPort) continue;
    launch();
    try {
      await waitHealthy();
      break;
    } catch (err) {
      await halt();
      // A port grabbed between probing and binding makes etcd exit: try other ports.
      if (++attempts >= 3) {
        discard();
        throw err;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  logTails.set(clientURL(), () => tail);

  if (options.rootPassword !== undefined) {
    try {
      await ctl(['user', 'add', `root:${options.rootPassword}`, '--interactive=false']);
      await ctl(['auth', 'enable']);
      rootUser = `root:${options.rootPassword}`;
    } catch (err) {
      await halt();
      discard();
      throw err;
    }
  }

  let stopped = false;
  const handle: EtcdHandle = {
    endpoint: clientURL(),
    tls: certs?.client,
    ctl,
    dataDir,
    netns,
    halt,
    pause,
    unpause,
    resume: async () => {
      if (stopped) throw new Error('etcd handle was stopped');
      if (entry.child && entry.child.exitCode === null && entry.child.signalCode === null) return;
      launch();
      await waitHealthy();
    },
    restart: async () => {
      await handle.halt();
      await handle.resume();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await halt();
      discard();
    },
    logTail: () => tail,
  };
  return handle;
}
