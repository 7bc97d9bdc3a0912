/**
 * @module cni/invoke
 * Finding a plugin in CNI_PATH and running it the CNI way: configuration on stdin, the same
 * CNI_* environment, the result (or a CNI error) on stdout. The delegate's stderr goes straight
 * to ours, so the runtime's log shows it.
 */
// First, so that in the compiled plugin stdin is being read while the other modules load.
import './sys/stdin-prefetch.ts';
import { CniCode, CniError } from './cni-error.ts';
import type { EnvSource } from './env.ts';
import { clip } from './limits.ts';
import { sys } from './sys/sys.ts';

export const MISSING_PLUGIN_HINT =
  'flannel hands the pod interface to the standard CNI plugins (bridge, host-local, portmap, loopback); ' +
  'install them into a directory of CNI_PATH (Debian/Ubuntu: apt install containernetworking-plugins, which puts them in /usr/lib/cni; ' +
  'upstream: the containernetworking/plugins release in /opt/cni/bin). See flannel-io/flannel#1847.';

export function cniPathDirs(cniPath: string): string[] {
  const dirs: string[] = [];
  for (const d of cniPath.split(':')) if (d !== '') dirs.push(d);
  return dirs;
}

/** The first executable `type` in CNI_PATH, or undefined. `type` is a file name, never a path. */
export function lookupPlugin(type: string, cniPath: string): string | undefined {
  if (type === '' || type === '.' || type === '..' || type.includes('/')) return undefined;
  return sys().findExecutable(type, cniPathDirs(cniPath));
}

/** Like lookupPlugin, but a missing plugin is a code 999 error naming the plugin and CNI_PATH. */
export function findPlugin(type: string, cniPath: string): string {
  const p = lookupPlugin(type, cniPath);
  if (p !== undefined) return p;
  throw new CniError(CniCode.Internal, `failed to find plugin "${clip(type, 64)}" in path [${clip(cniPathDirs(cniPath).join(' '), 1024)}] (CNI_PATH=${clip(cniPath, 1024)})`, MISSING_PLUGIN_HINT);
}

export interface PluginRun {
  /** Path of the executable. */
  path: string;
  command: string;
  /** Configuration for stdin. */
  stdin: string;
  /** Environment to pass (CNI_COMMAND is set from `command`). */
  env: EnvSource;
}

const TRANSIENT = new Set(['ETXTBSY', 'EAGAIN', 'EBUSY', 'ENOMEM']);

function envFor(run: PluginRun): EnvSource {
  return { ...run.env, CNI_COMMAND: run.command };
}

function spawnFailure(run: PluginRun, error: NodeJS.ErrnoException): CniError {
  const errno = error.code ?? '';
  if (TRANSIENT.has(errno)) {
    return new CniError(CniCode.TryAgainLater, `plugin ${run.path} could not be started (${errno}), try again later`, 'the plugin binary may be being replaced (e.g. by an install-cni init container)', { cause: error });
  }
  return new CniError(CniCode.Internal, `failed to execute plugin ${run.path}: ${error.message}`, '', { cause: error });
}

function asErrno(err: unknown): NodeJS.ErrnoException {
  return err instanceof Error ? (err as NodeJS.ErrnoException) : new Error(String(err));
}

/** Plain string values only: what spawn takes. */
function plainEnv(run: PluginRun): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(envFor(run))) if (v !== undefined) out[k] = v;
  return out;
}

/** Runs a plugin; returns its stdout on success, throws its CNI error (unchanged) on failure. */
export function runPlugin(run: PluginRun): string {
  let r;
  try {
    r = sys().runCaptured(run.path, run.stdin, plainEnv(run));
  } catch (err) {
    throw spawnFailure(run, asErrno(err));
  }
  if (r.status === 0) return r.stdout;
  throw pluginError(run, r.stdout, r.status, r.signal as NodeJS.Signals | null);
}

/** Whether this runtime can let a plugin answer our caller directly (runPluginAnswering). */
export function canLetPluginAnswer(): boolean {
  return sys().runWithOurOutput !== undefined;
}

/**
 * Runs a plugin with `stdinFile` as its input and our stdout/stderr as its own: its result or
 * CNI error reaches the runtime untouched, without a copy through us. Returns its exit status;
 * throws the runPlugin errors when it cannot be started or dies without an answer.
 */
export function runPluginAnswering(run: PluginRun, stdinFile: string): number {
  const runWith = sys().runWithOurOutput;
  if (!runWith) throw new CniError(CniCode.Internal, 'this runtime cannot hand its output to a plugin');
  let end;
  try {
    end = runWith(run.path, stdinFile, plainEnv(run));
  } catch (err) {
    throw spawnFailure(run, asErrno(err));
  }
  if (end.status === null) throw pluginError(run, '', null, end.signal as NodeJS.Signals | null);
  return end.status;
}

function pluginError(run: PluginRun, stdout: string, status: number | null, signal: NodeJS.Signals | null): CniError {
  try {
    const e: unknown = JSON.parse(stdout);
    if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'number' && 'msg' in e && typeof e.msg === 'string') {
      const details = 'details' in e && typeof e.details === 'string' ? e.details : '';
      return new CniError(e.code, e.msg, details);
    }
  } catch {
    /* not a CNI error result */
  }
  const how = signal ? `was killed by ${signal}` : `exited with status ${status}`;
  return new CniError(CniCode.Internal, `plugin ${run.path} (${run.command}) ${how} without a CNI error result`, stdout.trim().slice(0, 4096));
}

/** Whether the plugin at `path` speaks spec `version` (asked with VERSION; false if it cannot say). */
export function pluginSupports(path: string, version: string, env: EnvSource): boolean {
  try {
    const out: unknown = JSON.parse(runPlugin({ path, command: 'VERSION', stdin: JSON.stringify({ cniVersion: version }), env }));
    if (typeof out !== 'object' || out === null || !('supportedVersions' in out) || !Array.isArray(out.supportedVersions)) return false;
    return (out.supportedVersions as unknown[]).includes(version);
  } catch {
    return false;
  }
}
