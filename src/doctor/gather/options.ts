/**
 * @module doctor/gather/options
 * Which flanneld options doctor checks against: the flanneld flags given to doctor itself, else
 * the command line and FLANNELD_* environment of the flanneld running in this network namespace,
 * else the defaults (plus doctor's own FLANNELD_* environment). Pure: the process list is read in
 * processes.ts.
 */
import { FLAGS, parseDaemonOptions, type DaemonOptions } from '../../config/index.ts';
import { describeError } from '../../errors/index.ts';

/** A flanneld process as read from /proc: its argv and environment. */
export interface FlanneldProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  /** /proc/<pid>/environ; empty when it could not be read. */
  readonly env: Readonly<Record<string, string>>;
}

export interface ResolvedOptions {
  readonly options: DaemonOptions;
  /** For the report: "doctor's flags", "pid 412's command line and environment", "the defaults". */
  readonly from: string;
  /** The environment flanneld runs with (kube mode reads NODE_NAME, POD_NAME, KUBERNETES_SERVICE_*). */
  readonly env: Readonly<Record<string, string>>;
  /** The flanneld the options came from, when they came from one. */
  readonly pid?: number;
}

/** flanneld's program as it appears in an argv: upstream's binary, our script (source or bundle), the image's wrapper. */
const FLANNELD_PROGRAM = /^flanneld(?:-main)?(?:\.(?:ts|js|mjs|cjs))?$/;

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * flanneld's own arguments in a process's argv (`/opt/bin/flanneld --iface=eth0`, `node --import
 * tsx src/cli/flanneld.ts --iface=eth0`), or undefined when the process is not flanneld. Only the
 * program and the options of an interpreter before it are skipped.
 */
export function flanneldArgsOf(argv: readonly string[]): string[] | undefined {
  const at = argv.findIndex((a) => FLANNELD_PROGRAM.test(basename(a)));
  if (at < 0) return undefined;
  // An interpreter's argv: everything before the script must be the interpreter and its options.
  if (at > 0 && !/^(node|nodejs|bun|deno)$/.test(basename(argv[0] ?? ''))) return undefined;
  return argv.slice(at + 1);
}

/** /proc/<pid>/environ (NUL-separated NAME=value) as a record. */
export function parseEnviron(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

const KNOWN = new Map(FLAGS.map((f) => [f.name, f]));

/**
 * The arguments parseDaemonOptions understands, and the ones it would refuse (an upstream flag
 * this build does not have, a positional): a running flanneld's command line is read as far as
 * it can be, not rejected as a whole.
 */
export function knownFlanneldArgs(args: readonly string[]): { known: string[]; ignored: string[] } {
  const known: string[] = [];
  const ignored: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const m = /^--?([^=]+)(=.*)?$/.exec(arg);
    const spec = m ? KNOWN.get(m[1] ?? '') : undefined;
    if (!m || !spec) {
      ignored.push(arg);
      continue;
    }
    known.push(arg);
    // "--name value": the value is the next argument (booleans take theirs only with "=").
    if (m[2] === undefined && spec.kind !== 'bool' && i + 1 < args.length) known.push(args[++i] ?? '');
  }
  return { known, ignored };
}

/** Only the FLANNELD_* variables are flanneld's options. */
function flanneldEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('FLANNELD_') && v !== undefined) out[k] = v;
  return out;
}

function definedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export interface ResolveInput {
  /** flanneld flags given to doctor (already validated by the command); undefined or empty: none. */
  readonly doctorFlags?: readonly string[];
  /** doctor's own environment. */
  readonly doctorEnv: Readonly<Record<string, string | undefined>>;
  /** flanneld processes in this network namespace. */
  readonly processes: readonly FlanneldProcess[];
  readonly kernelRelease?: string;
}

/**
 * Resolves the options. Doctor's own flags are parsed strictly (the command reports a bad one as a
 * usage error before this); a running flanneld's command line that does not parse falls back to
 * the defaults, and `from` says why.
 */
export function resolveOptions(input: ResolveInput): ResolvedOptions {
  const { doctorFlags, doctorEnv, processes, kernelRelease } = input;
  if (doctorFlags && doctorFlags.length > 0) {
    return { options: parseDaemonOptions(doctorFlags, flanneldEnv(doctorEnv), kernelRelease), from: "doctor's flags", env: definedEnv(doctorEnv) };
  }
  const notes: string[] = [];
  const proc = processes[0];
  if (proc) {
    const args = flanneldArgsOf(proc.argv) ?? [];
    const { known, ignored } = knownFlanneldArgs(args);
    try {
      const options = parseDaemonOptions(known, flanneldEnv(proc.env), kernelRelease);
      const skipped = ignored.length > 0 ? `; ignored: ${ignored.join(' ')}` : '';
      return { options, from: `pid ${proc.pid}'s command line and environment${skipped}`, env: proc.env, pid: proc.pid };
    } catch (err) {
      notes.push(`pid ${proc.pid}'s command line did not parse: ${describeError(err)}`);
    }
  }
  try {
    return { options: parseDaemonOptions([], flanneldEnv(doctorEnv), kernelRelease), from: ['the defaults', ...notes].join('; '), env: definedEnv(doctorEnv) };
  } catch (err) {
    // doctor's own FLANNELD_* variables are bad: the plain defaults, saying so.
    notes.push(`FLANNELD_* of doctor's environment did not parse: ${describeError(err)}`);
    return { options: parseDaemonOptions([], {}, kernelRelease), from: ['the defaults', ...notes].join('; '), env: definedEnv(doctorEnv) };
  }
}
