/**
 * @module wireguard/userspace
 * Runs and supervises wireguard-go, the userspace WireGuard, for one device in the current
 * network namespace: `wireguard-go -f <device>` with WG_PROCESS_FOREGROUND=1 (stays in the
 * foreground without the banner "Running wireguard-go is not required because this kernel has
 * first class support for WireGuard", which is only a warning: Debian's 0.0.20220316 runs anyway).
 *
 * wireguard-go creates the device as a TUN (MTU 1420, down, no address) and its UAPI socket
 * `<socketDir>/<device>.sock`; the device lives only as long as the process, so when it dies its
 * addresses and routes go with it. The supervisor therefore restarts it (with a backoff) and calls
 * `onStarted` after every start, once the socket answers: that is where the backend configures
 * the device again (keys, peers, MTU, address, up, routes).
 *
 * On abort it stops the process (SIGTERM, SIGKILL after a grace period) and removes the socket.
 * A wireguard-go left over from an earlier run for the same device (its socket answers before we
 * start) is stopped by removing its socket, which wireguard-go watches and exits on.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { sleep } from '../async/index.ts';
import { BackendError, describeError, isAbortError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { DEFAULT_SOCKET_DIR, UapiControl, uapiSocketPath } from './uapi.ts';

export const WIREGUARD_GO_PACKAGE = 'wireguard-go';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

export interface LaunchedProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitInfo>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts argv[0] with argv[1..]; every line the process prints goes to `onLine`. */
export type Launcher = (argv: readonly string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void) => LaunchedProcess;

export interface WireguardGoOptions {
  device: string;
  logger: Logger;
  /** The wireguard-go program: a path, or a name looked up on PATH (default "wireguard-go"). */
  binary?: string;
  /** Where this process finds the UAPI socket (default /var/run/wireguard). */
  socketDir?: string;
  /**
   * Turns wireguard-go's command line into the one to run, e.g. to start it in another namespace
   * (`ip netns exec ...`). Default: as it is.
   */
  wrap?: (argv: readonly string[]) => string[];
  /** The environment to start with (default process.env); WG_PROCESS_FOREGROUND and LOG_LEVEL are set on top. */
  env?: NodeJS.ProcessEnv;
  /** wireguard-go's LOG_LEVEL: "error" (default), "verbose" or "silent". Its lines are logged at debug. */
  logLevel?: 'error' | 'verbose' | 'silent';
  /**
   * Called after every start (the first one too) once the UAPI socket answers: configure the
   * device here. A failure after a restart restarts wireguard-go again (with the backoff).
   */
  onStarted?: (started: { pid: number | undefined; restarts: number }, signal: AbortSignal) => Promise<void>;
  /** How long a start may take until the socket answers (default 10 s). */
  readyTimeoutMs?: number;
  /** Restart delays: initial, doubling up to max; back to initial after a run of resetAfterMs. */
  backoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
  /** SIGTERM, then SIGKILL after this long (default 5 s). */
  stopTimeoutMs?: number;
  /** Seams for tests. */
  launcher?: Launcher;
  answers?: (device: string, signal: AbortSignal) => Promise<boolean>;
  which?: (binary: string) => string | undefined;
}

export interface WireguardGo {
  readonly device: string;
  readonly socketPath: string;
  /** The running process's pid (undefined between a death and the restart). */
  readonly pid: number | undefined;
  /** How many times it was restarted. */
  readonly restarts: number;
  /** Settles (never rejects) once stopped after the signal aborted; the socket is removed by then. */
  readonly stopped: Promise<void>;
}

const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };
const POLL_MS = 50;
const TAIL_LINES = 20;

/** Device names wireguard-go gets: what the kernel takes, and never something that looks like a flag. */
const DEVICE_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/;

/** The executable `binary` resolves to (a path as is, a name on PATH), or undefined. */
export function findExecutable(binary: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = binary.includes('/') ? [binary] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, binary));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function missingWireguardGo(binary: string, path: string): BackendError {
  const where = binary.includes('/') ? `${binary} does not exist or is not executable` : `no "${binary}" on PATH (${path || 'empty'})`;
  return new BackendError('E_WIREGUARD_GO_MISSING', `wireguard-go is not installed: the userspace WireGuard data path needs it, and ${where}`, {
    hint: `install it: apt-get install ${WIREGUARD_GO_PACKAGE} (Debian/Ubuntu); or run on a kernel with WireGuard (Linux 5.6 and later, the wireguard module), which needs no wireguard-go`,
  });
}

/** spawn()-based Launcher; stdout and stderr are split into lines. */
export const spawnLauncher: Launcher = (argv, env, onLine) => {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new TypeError('empty command line');
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pipeLines = (stream: NodeJS.ReadableStream | null): void => {
    if (!stream) return;
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = (parts.pop() ?? '').slice(-4096);
      for (const p of parts) if (p.trim() !== '') onLine(p);
    });
    stream.on('end', () => {
      if (rest.trim() !== '') onLine(rest);
    });
  };
  pipeLines(child.stdout);
  pipeLines(child.stderr);
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    get pid() {
      return child.pid;
    },
    exited,
    kill: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
};

function describeExit(e: ExitInfo): string {
  if (e.error) return `could not be started: ${e.error.message}`;
  if (e.signal) return `was killed by ${e.signal}`;
  return `exited with code ${e.code}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Stops a wireguard-go that serves `socketPath` but is not ours: removes the socket, which it
 * watches and exits on, and waits (up to `timeoutMs`) until it has closed our connection.
 */
export async function retireWireguardGo(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.on('connect', () => {
      unlink(socketPath).catch(() => undefined);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    sock.on('error', () => undefined);
  });
}

type LaunchResult = { ok: true; proc: LaunchedProcess; startedAt: number } | { ok: false; reason: string; exit?: ExitInfo };

/** Starts and supervises wireguard-go for `options.device`; resolves once it runs and `onStarted` succeeded. */
export async function startWireguardGo(options: WireguardGoOptions, signal: AbortSignal): Promise<WireguardGo> {
  const { device } = options;
  const log = options.logger.forComponent('wireguard-go');
  if (!DEVICE_NAME.test(device)) {
    throw new BackendError('E_WIREGUARD_DEVICE', `"${device}" is not a usable WireGuard device name (1-15 letters, digits, "_", "." or "-", not starting with "-")`, {
      hint: 'this is a bug in the caller: flannel names its devices flannel-wg and flannel-wg-v6',
    });
  }
  const binaryName = options.binary ?? 'wireguard-go';
  const env = options.env ?? process.env;
  const binary = (options.which ?? ((b) => findExecutable(b, env.PATH ?? '')))(binaryName);
  if (binary === undefined) throw missingWireguardGo(binaryName, env.PATH ?? '');

  const socketDir = options.socketDir ?? DEFAULT_SOCKET_DIR;
  const socketPath = uapiSocketPath(device, socketDir);
  const uapi = new UapiControl({ socketDir, timeoutMs: 2000 });
  const answers = options.answers ?? ((d: string, s: AbortSignal) => uapi.answers(d, s).catch(() => false));
  const launcher = options.launcher ?? spawnLauncher;
  const wrap = options.wrap ?? ((argv: readonly string[]) => [...argv]);
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const childEnv: NodeJS.ProcessEnv = { ...env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: options.logLevel ?? 'error' };
  const argv = wrap([binary, '-f', device]);

  let tail: string[] = [];
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail = tail.slice(-TAIL_LINES);
    log.debug(line, { device });
  };

  const state = { pid: undefined as number | undefined, restarts: 0 };

  const stopProcess = async (proc: LaunchedProcess): Promise<ExitInfo> => {
    proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), stopTimeoutMs);
    });
    const first = await Promise.race([proc.exited, killed]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    log.warn(`wireguard-go for ${device} did not stop within ${seconds(stopTimeoutMs)} of SIGTERM; killing it`, { pid: proc.pid });
    proc.kill('SIGKILL');
    return proc.exited;
  };

  /** One start: launch, wait for the socket, run onStarted. */
  const launchOnce = async (): Promise<LaunchResult> => {
    tail = [];
    const proc = launcher(argv, childEnv, onLine);
    const startedAt = Date.now();
    let exit: ExitInfo | undefined;
    void proc.exited.then((e) => {
      exit = e;
    });
    const deadline = startedAt + readyTimeoutMs;
    for (;;) {
      if (signal.aborted) {
        await stopProcess(proc);
        signal.throwIfAborted();
      }
      if (exit) return { ok: false, reason: `${describeExit(exit)} before its UAPI socket ${socketPath} answered`, exit };
      if (await answers(device, signal)) break;
      if (exit) continue;
      if (Date.now() >= deadline) {
        await stopProcess(proc);
        return { ok: false, reason: `did not answer on its UAPI socket ${socketPath} within ${seconds(readyTimeoutMs)}; stopped it` };
      }
      try {
        await sleep(POLL_MS, signal);
      } catch {
        /* aborted: handled at the top */
      }
    }
    state.pid = proc.pid;
    if (options.onStarted) {
      try {
        await options.onStarted({ pid: proc.pid, restarts: state.restarts }, signal);
      } catch (err) {
        if (signal.aborted || isAbortError(err)) {
          await stopProcess(proc);
          throw err;
        }
        await stopProcess(proc);
        state.pid = undefined;
        return { ok: false, reason: `started, but configuring it failed: ${describeError(err)}` };
      }
    }
    return { ok: true, proc, startedAt };
  };

  const outputHint = (): string => (tail.length > 0 ? `; its last output: ${tail.slice(-3).join(' | ')}` : '');

  // A wireguard-go left from an earlier run holds the device: stop it, so ours can create it.
  if (await answers(device, signal)) {
    log.warn(`a wireguard-go from an earlier run serves ${device} (${socketPath} answers); stopping it so this one can take the device over`, { device });
    if (!(await retireWireguardGo(socketPath, stopTimeoutMs))) {
      throw new BackendError('E_WIREGUARD_GO_START', `a wireguard-go from an earlier run serves ${device} and did not stop within ${seconds(stopTimeoutMs)} after its socket ${socketPath} was removed`, {
        hint: `stop it by hand (its pid: \`ss -xlp | grep ${device}.sock\`), then start flanneld again`,
      });
    }
  }

  let first: LaunchResult;
  try {
    first = await launchOnce();
  } catch (err) {
    await unlink(socketPath).catch(() => undefined);
    throw err;
  }
  if (!first.ok) {
    await unlink(socketPath).catch(() => undefined);
    throw new BackendError('E_WIREGUARD_GO_START', `wireguard-go for ${device} ${first.reason}${outputHint()}`, {
      hint: 'is /dev/net/tun there (modprobe tun) and does flanneld run as root (CAP_NET_ADMIN)? A device of that name that is not wireguard-go\'s also stops it: delete it (ip link del ...)',
    });
  }
  log.info(`wireguard-go started for ${device}`, { pid: first.proc.pid, socket: socketPath });

  const supervise = async (initial: { proc: LaunchedProcess; startedAt: number }): Promise<void> => {
    let current: { proc: LaunchedProcess; startedAt: number } | undefined = initial;
    let delay = backoff.initialMs;
    const aborted = new Promise<'aborted'>((r) => {
      if (signal.aborted) r('aborted');
      else signal.addEventListener('abort', () => r('aborted'), { once: true });
    });
    try {
      for (;;) {
        if (!current) break;
        const outcome = await Promise.race([current.proc.exited, aborted]);
        if (outcome === 'aborted') {
          await stopProcess(current.proc);
          break;
        }
        state.pid = undefined;
        if (Date.now() - current.startedAt >= backoff.resetAfterMs) delay = backoff.initialMs;
        log.error(`wireguard-go for ${device} ${describeExit(outcome)}; restarting it in ${seconds(delay)}`, {
          pid: current.proc.pid, code: outcome.code, signal: outcome.signal, ...(tail.length > 0 ? { output: tail.slice(-5).join('\n') } : {}),
        });
        current = undefined;
        for (;;) {
          try {
            await sleep(delay, signal);
          } catch {
            return;
          }
          delay = Math.min(backoff.maxMs, delay * 2);
          state.restarts++;
          let r: LaunchResult;
          try {
            r = await launchOnce();
          } catch {
            return; // aborted
          }
          if (r.ok) {
            log.info(`wireguard-go for ${device} restarted (pid ${r.proc.pid}, restart ${state.restarts})`, { pid: r.proc.pid, restarts: state.restarts });
            current = { proc: r.proc, startedAt: r.startedAt };
            break;
          }
          log.error(`wireguard-go for ${device} did not come back: it ${r.reason}${outputHint()}; trying again in ${seconds(delay)}`, { restarts: state.restarts });
        }
      }
    } finally {
      state.pid = undefined;
      await unlink(socketPath).catch(() => undefined);
      log.info(`wireguard-go for ${device} stopped`, { device });
    }
  };

  const stopped = supervise(first).catch((err: unknown) => {
    log.error(`supervising wireguard-go for ${device} failed: ${describeError(err)}`);
  });

  return {
    device,
    socketPath,
    get pid() {
      return state.pid;
    },
    get restarts() {
      return state.restarts;
    },
    stopped,
  };
}
