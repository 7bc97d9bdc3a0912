/**
 * A throwaway single-member etcd (Debian's /usr/bin/etcd) for integration tests: temp data dir,
 * free ports, healthy before it is handed out. etcd runs under a small shell guard that reads
 * our stdin: when this process dies for any reason (even SIGKILL) the pipe closes and the guard
 * kills etcd, so no etcd outlives the test run.
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
  /** Give up when not healthy within this many ms (default 20000). */
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
  /** etcdctl against this etcd (its netns, TLS files and root login applied). */
  ctl(args: string[], options?: { input?: string; user?: string }): Promise<string>;
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
  timeoutMs?: number;
  tls?: EtcdTLSFiles;
  /** "name:password" */
  user?: string;
}

/** Runs etcdctl (API v3) against `endpoint`; resolves with stdout, rejects with stderr. */
export async function etcdctl(endpoint: string, args: string[], options: EtcdctlOptions = {}): Promise<string> {
  const flags = [`--endpoints=${endpoint}`, '--command-timeout=3s'];
  if (options.tls) flags.push(`--cacert=${options.tls.caFile}`, `--cert=${options.tls.certFile}`, `--key=${options.tls.keyFile}`);
  if (options.user) flags.push(`--user=${options.user}`);
  const [cmd, argv] = withNetns(options.netns, ETCDCTL_BIN, [...flags, ...args]);
  return await new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      argv,
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: options.timeoutMs ?? 10_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`etcdctl ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
        else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
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
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
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
  const ctl = (args: string[], o: { input?: string; user?: string; timeoutMs?: number } = {}): Promise<string> =>
    etcdctl(clientURL(), args, {
      ...(netns ? { netns } : {}),
      ...(certs ? { tls: certs.client } : {}),
      ...(o.user ?? rootUser ? { user: o.user ?? rootUser } : {}),
      ...(o.input !== undefined ? { input: o.input } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
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
    const deadline = Date.now() + startTimeoutMs;
    const child = entry.child;
    let last = '';
    while (Date.now() < deadline) {
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`etcd exited during start-up: ${tail.slice(-1500)}`);
      }
      try {
        await ctl(['endpoint', 'health'], { timeoutMs: 3000 });
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await delay(100);
    }
    throw new Error(`etcd not healthy after ${startTimeoutMs} ms (${last}): ${tail.slice(-1500)}`);
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
