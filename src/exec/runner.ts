/**
 * @module exec/runner
 * The one seam for the commands flanneld runs (iptables-restore, nft, ethtool, the extension
 * backend's shell commands): a CommandRunner runs them here, inside a namespace, or records them
 * in tests. A missing command is not an exception but exit code 127, as a shell reports it, so
 * each caller says what to install.
 */
import { spawn } from 'node:child_process';
import { FlannelError } from '../errors/index.ts';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; 127 when the command does not exist (as a shell reports it), 128 + n when killed by signal n. */
  code: number;
  /** Set when the command ran longer than RunOptions.timeoutMs and was killed. */
  timedOut?: boolean;
}

export interface RunOptions {
  /** Written to the command's stdin (then closed). */
  stdin?: string;
  /** Kills the command and rejects with an AbortError when aborted. */
  signal?: AbortSignal;
  /** Added to the environment the command inherits (after LC_ALL=C, so it may override that too). */
  env?: Readonly<Record<string, string>>;
  /**
   * Kills the command with SIGKILL after this many ms; the result then has `timedOut` and code
   * 137. The command runs in a process group of its own, and the whole group is killed (on
   * timeout and on abort), so `sh -c 'sleep 100'` leaves no sleep behind.
   */
  timeoutMs?: number;
}

export interface CommandRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export const COMMAND_NOT_FOUND = 127;

/** Runs a command as a child process of ours (the daemon's own network namespace). */
export function execRunner(): CommandRunner {
  return { run: (command, args, options) => spawnCollect(command, args, options) };
}

/**
 * Runs every command inside network namespace `ns` through `ip netns exec` (for the lab and the
 * namespace tests; needs root). A missing binary is reported as code 127 like execRunner does.
 */
export function netnsRunner(ns: string): CommandRunner {
  return {
    async run(command, args, options) {
      const res = await spawnCollect('ip', ['netns', 'exec', ns, command, ...args], options);
      if (res.code !== 0 && /^exec of ".*" failed: No such file or directory/m.test(res.stderr)) {
        return { ...res, code: COMMAND_NOT_FOUND };
      }
      return res;
    },
  };
}

const SIGKILL_EXIT = 128 + 9;

function spawnCollect(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { stdin, signal, timeoutMs } = options;
  signal?.throwIfAborted();
  // With a timeout the command gets a process group of its own, killed as a whole (below).
  const group = timeoutMs !== undefined;
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', ...options.env },
      ...(group ? { detached: true } : signal ? { signal } : {}),
    });
    let timedOut = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = group ? setTimeout(() => ((timedOut = true), killGroup()), timeoutMs) : undefined;
    const onAbort = (): void => {
      killGroup();
      settle(() => reject(signal?.reason instanceof Error ? signal.reason : new DOMException('The command was aborted', 'AbortError')));
    };
    if (group) signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const settle = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        cleanUp();
        fn();
      }
    };
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      settle(() => {
        if (e.name === 'AbortError') reject(signal?.reason instanceof Error ? signal.reason : e);
        else if (e.code === 'ENOENT') resolve({ stdout: '', stderr: `${command}: command not found`, code: COMMAND_NOT_FOUND });
        else reject(new FlannelError('E_EXEC', `could not run ${command}: ${e.message}`, { cause: e }));
      });
    });
    child.on('close', (code, sig) => {
      settle(() =>
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          code: timedOut ? SIGKILL_EXIT : (code ?? (sig ? 128 : 1)),
          ...(timedOut ? { timedOut } : {}),
        }),
      );
    });
    // A command that exits before reading stdin gives EPIPE; its exit code tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });
}

/** Formats a command line for messages: `iptables-restore -w --noflush`. */
export function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].join(' ');
}
