/**
 * @module traffic/runner
 * The exec seam under both rule engines: every iptables/nft invocation goes through a RuleRunner,
 * so unit tests record what would run and the lab runs the same code inside a namespace.
 */
import { spawn } from 'node:child_process';
import { TrafficError } from '../errors/index.ts';

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

export interface RuleRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export const COMMAND_NOT_FOUND = 127;

/** Runs a command as a child process of ours (the daemon's own network namespace). */
export function execRunner(): RuleRunner {
  return { run: (command, args, options) => spawnCollect(command, args, options) };
}

/**
 * Runs every command inside network namespace `ns` through `ip netns exec` (for the lab and the
 * namespace tests; needs root). A missing binary is reported as code 127 like execRunner does.
 */
export function netnsRunner(ns: string): RuleRunner {
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
        else reject(new TrafficError('E_TRAFFIC_EXEC', `could not run ${command}: ${e.message}`, { cause: e }));
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

/** The TrafficError for a command that exited non-zero, carrying its stderr. */
export function commandFailed(command: string, args: readonly string[], res: RunResult, input?: string): TrafficError {
  const line = commandLine(command, args);
  if (res.code === COMMAND_NOT_FOUND) {
    return new TrafficError('E_TRAFFIC_NOT_FOUND', `${command} was not found (running "${line}")`, {
      hint: `install ${command} (package iptables or nftables) or choose the other engine with EnableNFTables`,
    });
  }
  const stderr = res.stderr.trim() || res.stdout.trim() || '(no output)';
  return new TrafficError('E_TRAFFIC_COMMAND', `"${line}" failed with exit code ${res.code}: ${stderr}`, {
    hint: input === undefined ? undefined : `to see the failure yourself, feed this to "${line}":\n${input}`,
  });
}

/** Runs a command and returns its stdout, throwing a TrafficError on a non-zero exit. */
export async function runChecked(runner: RuleRunner, command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const res = await runner.run(command, args, options);
  if (res.code !== 0) throw commandFailed(command, args, res, options.stdin);
  return res.stdout;
}
