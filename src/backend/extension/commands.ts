/**
 * @module backend/extension/commands
 * Running one of the configured commands: `sh -c <command>` through the exec seam, with the
 * environment and stdin upstream gives it, killed (with everything it started) after a timeout.
 * The outcome is a value, not an exception: start-up turns a failure into a BackendError, the
 * peer loop into a retry.
 */
import { commandLine, type CommandRunner } from '../../exec/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { CommandName } from './config.ts';

/** How long a command may run before it is killed (SIGKILL to its process group). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Output kept in a log line or an error message, per stream. */
const CLIP = 2000;

export interface CommandContext {
  readonly runner: CommandRunner;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

export type CommandOutcome =
  | { readonly ok: true; readonly stdout: string; readonly stderr: string }
  | { readonly ok: false; readonly code: number; readonly timedOut: boolean; readonly stdout: string; readonly stderr: string; readonly why: string };

export async function runCommand(ctx: CommandContext, name: CommandName, command: string, env: Readonly<Record<string, string>>, stdin = ''): Promise<CommandOutcome> {
  const res = await ctx.runner.run('sh', ['-c', command], { env, stdin, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (res.code === 0 && !res.timedOut) return { ok: true, stdout: res.stdout, stderr: res.stderr };
  const stderr = clip(res.stderr.trim());
  const stdout = clip(res.stdout.trim());
  // Scripts that report errors on stdout are common: their stdout stands in for a silent stderr.
  const said = stderr ? `: ${stderr}` : stdout ? `: ${stdout} (on stdout; nothing on stderr)` : ' and wrote nothing to stderr';
  const why = res.timedOut ? `${name} did not finish within ${formatSeconds(ctx.timeoutMs)} and was killed (with everything it started)` : `${name} failed with exit code ${res.code}${said}`;
  return { ok: false, code: res.code, timedOut: res.timedOut === true, stdout: res.stdout, stderr: res.stderr, why };
}

/** The environment of SubnetAddCommand and SubnetRemoveCommand for a peer ('' for what it lacks). */
export function peerEnv(lease: Lease): Record<string, string> {
  return {
    SUBNET: lease.subnet?.toString() ?? '',
    PUBLIC_IP: lease.attrs.publicIP?.toString() ?? '',
    // Not upstream's (IPv4 only there): the same for a peer's IPv6 side.
    IPV6SUBNET: lease.ipv6Subnet?.toString() ?? '',
    PUBLIC_IPV6: lease.attrs.publicIPv6?.toString() ?? '',
  };
}

/** Log fields for a command's run: the command and what it printed (clipped). */
export function outputFields(command: string, o: { stdout: string; stderr: string }): Record<string, string> {
  return {
    command: commandLine('sh', ['-c', clip(command)]),
    ...(o.stdout.trim() ? { stdout: clip(o.stdout.trim()) } : {}),
    ...(o.stderr.trim() ? { stderr: clip(o.stderr.trim()) } : {}),
  };
}

export function clip(text: string, max = CLIP): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}

export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
