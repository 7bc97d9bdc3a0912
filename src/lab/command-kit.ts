/**
 * @module lab/command-kit
 * What every `lab` subcommand shares: its output seam, command-line parsing with errors in the
 * operator's words, which lab it addresses (--name, --state-dir), and loading that lab.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { Cluster, labNamespaces } from './cluster.ts';
import { DEFAULT_LAB_NAME, cliCommand, defaultStateDir, labInvocation, type LabAddress } from './hints.ts';
import { loadPods, type LabPod } from './lab-pods.ts';

export interface LabIO {
  out: (line: string) => void;
  progress: (line: string) => void;
}

/** A mistake in the command line: the CLI exits 2 for these (1 for everything else). */
export class LabUsageError extends ConfigError {}

export function usageError(message: string): never {
  throw new LabUsageError('E_LAB_USAGE', message, { hint: `see "${cliCommand()} lab --help"` });
}

/** The options every subcommand takes, before or after the subcommand. */
export const GLOBAL = {
  name: { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

/** Turns node's parseArgs errors into usage errors in the operator's words, and refuses repeated options. */
export function parsing<R extends { tokens?: Array<{ kind: string; name?: string }> }>(sub: string, known: readonly string[], fn: () => R): R {
  let r: R;
  try {
    r = fn();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
    const opt = quoted.split(/[ ,]/).find((w) => w.startsWith('--')) ?? quoted;
    const options = known.map((k) => `--${k}`).join(', ');
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') usageError(`"lab ${sub}" has no option ${opt} (its options: ${options})`);
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') usageError(`"lab ${sub}" takes no argument "${quoted}" (its options: ${options})`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/argument missing|ambiguous/.test(e.message ?? '')) usageError(`${opt} needs a value`);
      if (/does not take an argument/.test(e.message ?? '')) usageError(`${opt} takes no value`);
    }
    usageError(`lab ${sub}: ${e.message ?? String(err)}`);
  }
  const counts = new Map<string, number>();
  for (const t of r.tokens ?? []) if (t.kind === 'option' && t.name) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  for (const [n, c] of counts) if (c > 1) usageError(`--${n} is given ${c} times (before and after the subcommand?); give it once`);
  return r;
}

export type Target = LabAddress;

export function targetOf(values: { name?: string | undefined; 'state-dir'?: string | undefined }): Target {
  const name = values.name ?? DEFAULT_LAB_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(name)) usageError(`--name "${name}" is not a lab name: use 1-32 letters, digits, "_", "." or "-", starting with a letter or digit`);
  if (/-(n\d|sw$|cp$)/.test(name)) usageError(`--name "${name}" looks like one of another lab's namespaces ("-nN", "-sw", "-cp" name them); pick another name`);
  return { cli: cliCommand(), name, stateDir: values['state-dir'] ?? defaultStateDir(name) };
}

export function needRoot(): void {
  if (process.getuid?.() !== 0) throw new ConfigError('E_LAB_ROOT', 'the lab creates and enters network namespaces, which needs root', { hint: 'run it as root' });
}

export function nsList(namespaces: readonly string[]): string {
  return namespaces.length > 4 ? `${namespaces.slice(0, 4).join(', ')}, ... (${namespaces.length} namespaces)` : namespaces.join(', ');
}

/** The lab at `t`, or an error saying where it is instead (another --state-dir) or how to build it. */
export function loadLab(t: Target, sub: string): { cluster: Cluster; pods: LabPod[] } {
  if (!existsSync(join(t.stateDir, 'lab.json'))) {
    const namespaces = labNamespaces(t.name);
    const elsewhere = namespaces.length ? Cluster.findStateDir(t.name) : undefined;
    const args = sub === 'exec' ? 'exec <node|pod> -- <command...>' : sub;
    if (elsewhere) {
      throw new ConfigError('E_LAB_NOT_FOUND', `lab "${t.name}" keeps its state in ${elsewhere}, not in ${t.stateDir}`, { hint: `name it: "${labInvocation({ ...t, stateDir: elsewhere })} ${args}"` });
    }
    if (namespaces.length) {
      throw new ConfigError('E_LAB_NOT_FOUND', `lab "${t.name}" has namespaces (${nsList(namespaces)}) but no state in ${t.stateDir}: a crash or a kill left them`, { hint: `remove them with "${labInvocation(t)} down", then build it again with "${labInvocation(t)} up"` });
    }
    throw new ConfigError('E_LAB_NOT_FOUND', `no lab "${t.name}" is up (nothing in ${t.stateDir})`, { hint: `build it with "${labInvocation(t)} up"` });
  }
  return { cluster: Cluster.load(t.stateDir), pods: loadPods(t.stateDir) };
}

/** The most nodes a lab holds (lab up --nodes, lab node add). */
export const MAX_LAB_NODES = 100;
/** The most pods lab up puts on each node. */
export const MAX_PODS_PER_NODE_AT_UP = 20;
