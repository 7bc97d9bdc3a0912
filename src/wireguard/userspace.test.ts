import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '../errors/index.ts';
import { createMemoryLogger, type MemoryLogger } from '../log/index.ts';
import { findExecutable, startWireguardGo, type ExitInfo, type LaunchedProcess, type Launcher, type WireguardGoOptions } from './userspace.ts';

class FakeProc implements LaunchedProcess {
  readonly exited: Promise<ExitInfo>;
  readonly signals: string[] = [];
  ready = true;
  ignoresTerm = false;
  alive = true;
  #resolve!: (e: ExitInfo) => void;
  constructor(readonly pid: number, readonly argv: readonly string[], readonly env: NodeJS.ProcessEnv, readonly say: (line: string) => void) {
    this.exited = new Promise((r) => (this.#resolve = r));
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    this.#resolve({ code, signal });
  }
  kill(sig: NodeJS.Signals): void {
    this.signals.push(sig);
    if (sig === 'SIGKILL' || !this.ignoresTerm) this.exit(null, sig);
  }
}

/** Lets promises and setImmediate callbacks run (timers are mocked, setImmediate is not). */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

describe('wireguard-go supervisor', () => {
  let dir: string;
  let log: MemoryLogger;
  let procs: FakeProc[];
  let nextBehaviour: (p: FakeProc) => void;
  const launcher: Launcher = (argv, env, onLine) => {
    const p = new FakeProc(1000 + procs.length, argv, env, onLine);
    procs.push(p);
    nextBehaviour(p);
    return p;
  };
  const answers = async (): Promise<boolean> => {
    const p = procs.at(-1);
    return p !== undefined && p.alive && p.ready;
  };
  const lines = (): string[] => log.lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.msg}`);
  let started: number[];
  const base = (): WireguardGoOptions => ({
    device: 'flannel-wg',
    logger: log,
    socketDir: dir,
    launcher,
    answers,
    which: (b) => `/usr/bin/${b}`,
    env: { PATH: '/usr/bin' },
    onStarted: async ({ restarts }) => {
      started.push(restarts);
    },
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-wggo-'));
    log = createMemoryLogger();
    procs = [];
    started = [];
    nextBehaviour = () => undefined;
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  });
  afterEach(async () => {
    mock.timers.reset();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs `wireguard-go -f <device>` in the foreground without its banner, and calls onStarted once the socket answers', async () => {
    const ac = new AbortController();
    const wg = await startWireguardGo({ ...base(), wrap: (argv) => ['ip', 'netns', 'exec', 'node1', ...argv] }, ac.signal);
    assert.equal(procs.length, 1);
    assert.deepEqual(procs[0]?.argv, ['ip', 'netns', 'exec', 'node1', '/usr/bin/wireguard-go', '-f', 'flannel-wg']);
    assert.deepEqual(procs[0]?.env, { PATH: '/usr/bin', WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' });
    assert.deepEqual(started, [0]);
    assert.equal(wg.pid, 1000);
    assert.equal(wg.socketPath, join(dir, 'flannel-wg.sock'));
    assert.deepEqual(lines(), ['info wireguard-go started for flannel-wg']);
    ac.abort();
    await wg.stopped;
  });

  it('restarts it when it dies, says so with the exit code, backs off, and onStarted re-applies the configuration', async () => {
    const ac = new AbortController();
    const wg = await startWireguardGo(base(), ac.signal);
    procs[0]?.say('ERROR: (flannel-wg) 2026/12/03 20:17:01 Failed to read packet from TUN device');
    procs[0]?.exit(1);
    await settle();
    assert.equal(wg.pid, undefined);
    assert.deepEqual(lines().slice(1), ['error wireguard-go for flannel-wg exited with code 1; restarting it in 1 s']);
    assert.deepEqual(log.lines.find((l) => l.level === 'debug'), { level: 'debug', msg: 'ERROR: (flannel-wg) 2026/12/03 20:17:01 Failed to read packet from TUN device', fields: { device: 'flannel-wg' }, component: 'wireguard-go' });
    assert.deepEqual(log.lines.find((l) => l.level === 'error')?.fields, { pid: 1000, code: 1, signal: null, output: 'ERROR: (flannel-wg) 2026/12/03 20:17:01 Failed to read packet from TUN device' });
    mock.timers.tick(999);
    await settle();
    assert.equal(procs.length, 1, 'not before the backoff');
    mock.timers.tick(1);
    await settle();
    assert.equal(procs.length, 2);
    assert.deepEqual(started, [0, 1]);
    assert.equal(wg.pid, 1001);
    assert.equal(wg.restarts, 1);
    assert.equal(lines().at(-1), 'info wireguard-go for flannel-wg restarted (pid 1001, restart 1)');

    // Killed again soon: the delay doubles.
    procs[1]?.exit(null, 'SIGKILL');
    await settle();
    assert.equal(lines().at(-1), 'error wireguard-go for flannel-wg was killed by SIGKILL; restarting it in 2 s');
    mock.timers.tick(2000);
    await settle();
    assert.deepEqual(started, [0, 1, 2]);

    // After a long quiet run the delay is back to the start.
    mock.timers.tick(60_000);
    procs[2]?.exit(2);
    await settle();
    assert.equal(lines().at(-1), 'error wireguard-go for flannel-wg exited with code 2; restarting it in 1 s');
    mock.timers.tick(1000);
    await settle();
    assert.equal(procs.length, 4);
    ac.abort();
    await settle();
    await wg.stopped;
    assert.deepEqual(procs[3]?.signals, ['SIGTERM']);
  });

  it('keeps trying, with a growing delay, while wireguard-go will not come back', async () => {
    const ac = new AbortController();
    await startWireguardGo(base(), ac.signal);
    nextBehaviour = (p) => {
      p.say('ERROR: Failed to create TUN device: no such device');
      p.exit(1);
    };
    procs[0]?.exit(1);
    await settle();
    mock.timers.tick(1000);
    await settle();
    assert.equal(lines().at(-1), `error wireguard-go for flannel-wg did not come back: it exited with code 1 before its UAPI socket ${join(dir, 'flannel-wg.sock')} answered; its last output: ERROR: Failed to create TUN device: no such device; trying again in 2 s`);
    nextBehaviour = () => undefined;
    mock.timers.tick(2000);
    await settle();
    assert.equal(lines().at(-1), 'info wireguard-go for flannel-wg restarted (pid 1002, restart 2)');
    ac.abort();
  });

  it('restarts it again when re-applying the configuration fails', async () => {
    const ac = new AbortController();
    let fail = false;
    await startWireguardGo({ ...base(), onStarted: async () => {
      if (fail) throw new BackendError('E_WIREGUARD_UAPI', 'wireguard-go refused the configuration of flannel-wg (errno -22, EINVAL)');
    } }, ac.signal);
    fail = true;
    procs[0]?.exit(1);
    await settle();
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(procs[1]?.signals, ['SIGTERM'], 'the unconfigured one is stopped');
    assert.equal(lines().at(-1), 'error wireguard-go for flannel-wg did not come back: it started, but configuring it failed: wireguard-go refused the configuration of flannel-wg (errno -22, EINVAL); trying again in 2 s');
    fail = false;
    mock.timers.tick(2000);
    await settle();
    assert.equal(procs.length, 3);
    assert.equal(lines().at(-1), 'info wireguard-go for flannel-wg restarted (pid 1002, restart 2)');
    ac.abort();
  });

  it('stops it on abort (SIGTERM, SIGKILL after the grace period) and removes the socket', async () => {
    const ac = new AbortController();
    nextBehaviour = (p) => {
      p.ignoresTerm = true;
    };
    const wg = await startWireguardGo(base(), ac.signal);
    await writeFile(wg.socketPath, ''); // what a killed wireguard-go leaves behind
    ac.abort();
    await settle();
    assert.deepEqual(procs[0]?.signals, ['SIGTERM']);
    mock.timers.tick(5000);
    await settle();
    await wg.stopped;
    assert.deepEqual(procs[0]?.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(existsSync(wg.socketPath), false);
    assert.deepEqual(lines().slice(1), [
      'warn wireguard-go for flannel-wg did not stop within 5 s of SIGTERM; killing it',
      'info wireguard-go for flannel-wg stopped',
    ]);
    assert.equal(procs.length, 1, 'no restart after a stop');
  });

  it('does not restart it during the backoff once aborted', async () => {
    const ac = new AbortController();
    const wg = await startWireguardGo(base(), ac.signal);
    procs[0]?.exit(1);
    await settle();
    ac.abort();
    await wg.stopped;
    mock.timers.tick(60_000);
    await settle();
    assert.equal(procs.length, 1);
    assert.equal(lines().at(-1), 'info wireguard-go for flannel-wg stopped');
  });

  it('fails the start, naming the exit and the output, when wireguard-go exits before its socket answers', async () => {
    nextBehaviour = (p) => {
      p.say('ERROR: (flannel-wg) Failed to create TUN device: operation not permitted');
      p.exit(1);
    };
    await assert.rejects(startWireguardGo(base(), new AbortController().signal), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, 'E_WIREGUARD_GO_START');
      assert.equal(err.message, `wireguard-go for flannel-wg exited with code 1 before its UAPI socket ${join(dir, 'flannel-wg.sock')} answered; its last output: ERROR: (flannel-wg) Failed to create TUN device: operation not permitted`);
      assert.equal(err.hint, "is /dev/net/tun there (modprobe tun) and does flanneld run as root (CAP_NET_ADMIN)? A device of that name that is not wireguard-go's also stops it: delete it (ip link del ...)");
      return true;
    });
    assert.deepEqual(started, []);
  });

  it('fails the start when the socket does not answer in time, and stops the process', async () => {
    nextBehaviour = (p) => {
      p.ready = false;
    };
    const pending = startWireguardGo({ ...base(), readyTimeoutMs: 2000 }, new AbortController().signal);
    pending.catch(() => undefined); // it rejects while the clock is being advanced
    for (let t = 0; t < 2100; t += 50) {
      mock.timers.tick(50);
      await settle();
    }
    await assert.rejects(pending, { code: 'E_WIREGUARD_GO_START', message: `wireguard-go for flannel-wg did not answer on its UAPI socket ${join(dir, 'flannel-wg.sock')} within 2 s; stopped it` });
    assert.deepEqual(procs[0]?.signals, ['SIGTERM']);
  });

  it('names the package to install when wireguard-go is missing', async () => {
    await assert.rejects(startWireguardGo({ ...base(), which: () => undefined, env: { PATH: '/usr/sbin:/usr/bin' } }, new AbortController().signal), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, 'E_WIREGUARD_GO_MISSING');
      assert.equal(err.message, 'wireguard-go is not installed: the userspace WireGuard data path needs it, and no "wireguard-go" on PATH (/usr/sbin:/usr/bin)');
      assert.equal(err.hint, 'install it: apt-get install wireguard-go (Debian/Ubuntu); or run on a kernel with WireGuard (Linux 5.6 and later, the wireguard module), which needs no wireguard-go');
      return true;
    });
    assert.equal(procs.length, 0);
    assert.equal(findExecutable('wireguard-go-that-does-not-exist', '/usr/bin:/bin'), undefined);
    assert.equal(findExecutable('sh', '/nonexistent:/bin'), '/bin/sh');
  });

  it('refuses a device name wireguard-go would take for a flag (`wireguard-go --help` creates a device "--help")', async () => {
    for (const device of ['--help', '-f', '', 'a-name-that-is-too-long', 'wg 0', 'wg/0']) {
      await assert.rejects(startWireguardGo({ ...base(), device }, new AbortController().signal), {
        code: 'E_WIREGUARD_DEVICE',
        message: `"${device}" is not a usable WireGuard device name (1-15 letters, digits, "_", "." or "-", not starting with "-")`,
      });
    }
    assert.equal(procs.length, 0);
  });
});
