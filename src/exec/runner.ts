/**
 * @module exec/runner
 * The one seam for the commands flanneld runs (iptables-restore, nft, ethtool): a CommandRunner
 * runs them here, inside a namespace, or records them in tests. A missing command is not an
 * exception but exit code 127, as a shell reports it, so each caller says what to install.
 */
import { spawn } from 'node:child_process';
import { FlannelError } from '../errors/index.ts';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; 127 when the command does not exist (as a shell reports it). */
  code: number;
}

export interface RunOptions {
  /** Written to the command's stdin (then closed). */
  stdin?: string;
  /** Kills the command and rejects with an AbortError when aborted. */
  signal?: AbortSignal;
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

function spawnCollect(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { stdin, signal } = options;
  signal?.throwIfAborted();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      ...(signal ? { signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const settle = (fn: () => void): void => {
      if (!settled) {
        settled = true;
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
          code: code ?? (sig ? 128 : 1),
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
