/**
 * @module doctor/doctor-command
 * `flannel-ts doctor [--json] [--connectivity] [--list] [--cni-conf-dir D] [--cni-bin-dir D[,D2]]
 * [flanneld flags...]`: gather the node's facts, run every check, print the report. Exit 0 when
 * nothing failed, 1 when something did, 2 for a bad command line.
 */
import { ConfigError, FlannelError } from '../errors/index.ts';
import type { CommandRunner } from '../exec/index.ts';
import { exitCodeOf, type CheckResult, type CheckSpec } from './check.ts';
import { CHECKS } from './checks/index.ts';
import type { NodeFacts } from './facts.ts';
import { DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR, gatherFacts, resolveOptions, type GatherOptions } from './gather/index.ts';
import { formatJson, formatTable } from './render.ts';

export const DOCTOR_USAGE = 'doctor [--json] [--connectivity] [--list] [flanneld flags...]';

export const DOCTOR_HELP = `Usage: flannel-ts ${DOCTOR_USAGE}

Reads this node's flannel setup (flanneld, subnet.env, the datastore, the kernel, the firewall,
the CNI configuration), changes nothing, and reports every check as ok / warn / fail with what it
saw and, for anything not ok, the fix. Exit 0 when nothing failed, 1 when a check failed.

  --json               one JSON object: {"node", "results": [...], "summary": {...}}
  --connectivity       also ping every peer through the overlay and on the underlay
  --list               list the checks and exit
  --cni-conf-dir D     CNI configuration directory (default ${DEFAULT_CNI_CONF_DIR})
  --cni-bin-dir D,D2   CNI plugin directories (default ${DEFAULT_CNI_BIN_DIRS.join(',')})
  flanneld flags       flanneld's own flags (--etcd-endpoints, --kube-subnet-mgr, --iface, ...);
                       without them doctor reads the running flanneld's command line and
                       FLANNELD_* environment, else uses flanneld's defaults
`;

/** A bad doctor command line (exit 2). */
export class DoctorUsageError extends ConfigError {
  constructor(message: string, hint = 'run "flannel-ts doctor --help" for the options') {
    super('E_DOCTOR_USAGE', message, { hint });
  }
}

export interface DoctorArgs {
  readonly json: boolean;
  readonly connectivity: boolean;
  readonly list: boolean;
  readonly help: boolean;
  readonly cniConfDir: string;
  readonly cniBinDirs: readonly string[];
  /** Everything else, for flanneld's option parser. */
  readonly flanneldFlags: readonly string[];
}

const BOOLEAN_FLAGS = { '--json': 'json', '--connectivity': 'connectivity', '--list': 'list', '--help': 'help', '-h': 'help' } as const;

/** Splits doctor's own flags from flanneld's; flanneld's are validated later by its own parser. */
export function parseDoctorArgs(argv: readonly string[]): DoctorArgs {
  const flags = { json: false, connectivity: false, list: false, help: false };
  let cniConfDir = DEFAULT_CNI_CONF_DIR;
  let cniBinDirs: readonly string[] = DEFAULT_CNI_BIN_DIRS;
  const flanneldFlags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [name = '', inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name in BOOLEAN_FLAGS) {
      if (inline !== undefined) throw new DoctorUsageError(`${name} takes no value (got "${arg}")`);
      flags[BOOLEAN_FLAGS[name as keyof typeof BOOLEAN_FLAGS]] = true;
      continue;
    }
    if (name === '--cni-conf-dir' || name === '--cni-bin-dir') {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new DoctorUsageError(`${name} needs a directory, e.g. ${name}=${name === '--cni-conf-dir' ? DEFAULT_CNI_CONF_DIR : DEFAULT_CNI_BIN_DIRS[0]}`);
      if (name === '--cni-conf-dir') cniConfDir = value;
      else {
        cniBinDirs = value.split(',').map((d) => d.trim()).filter(Boolean);
        if (cniBinDirs.length === 0) throw new DoctorUsageError(`--cni-bin-dir "${value}" names no directory`);
      }
      continue;
    }
    flanneldFlags.push(arg);
  }
  return { ...flags, cniConfDir, cniBinDirs, flanneldFlags };
}

/** Runs every check; a check that throws is a failed result naming the bug, not a crashed report. */
export function runChecks(facts: NodeFacts, checks: readonly CheckSpec[] = CHECKS): CheckResult[] {
  return checks.flatMap((spec): CheckResult[] => {
    try {
      const r = spec.run(facts);
      return Array.isArray(r) ? [...(r as readonly CheckResult[])] : [r as CheckResult];
    } catch (err) {
      return [{ id: spec.id, status: 'fail', saw: `the check itself crashed: ${(err as Error).message}`, fix: 'this is a bug in flannel-ts doctor: please report it with the output of doctor --json' }];
    }
  });
}

/** `doctor --list`: every check's id and what it checks, one per line. */
export function formatCheckList(checks: readonly CheckSpec[] = CHECKS): string {
  const width = Math.max(0, ...checks.map((c) => c.id.length));
  return checks.map((c) => `${c.id.padEnd(width)}  ${c.summary}\n`).join('');
}

export interface DoctorIo {
  /** stdout: text as given (it carries its own newlines). */
  readonly out: (text: string) => void;
  /** stderr: one line. */
  readonly err: (line: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly runner?: CommandRunner;
  /** Seam: what gathers the facts (default gatherFacts). */
  readonly gather?: (options: GatherOptions) => Promise<NodeFacts>;
  readonly checks?: readonly CheckSpec[];
}

function usageError(io: DoctorIo, err: FlannelError): 2 {
  io.err(`flannel-ts doctor: error: ${err.message}`);
  if (err.hint) io.err(`flannel-ts doctor: hint: ${err.hint}`);
  return 2;
}

export async function runDoctor(argv: readonly string[], io: DoctorIo): Promise<number> {
  let args: DoctorArgs;
  try {
    args = parseDoctorArgs(argv);
    // flanneld's flags are checked now, so a typo is a usage error and not a report on the defaults.
    if (args.flanneldFlags.length > 0) {
      try {
        resolveOptions({ doctorFlags: args.flanneldFlags, doctorEnv: io.env ?? process.env, processes: [] });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        throw new DoctorUsageError(err.message, 'doctor takes its own options (flannel-ts doctor --help) and flanneld\'s flags (flanneld --help)');
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) return usageError(io, err);
    throw err;
  }
  if (args.help) {
    io.out(DOCTOR_HELP);
    return 0;
  }
  const checks = io.checks ?? CHECKS;
  if (args.list) {
    io.out(formatCheckList(checks));
    return 0;
  }
  const options: GatherOptions = {
    ...(args.flanneldFlags.length > 0 ? { flanneldFlags: args.flanneldFlags } : {}),
    cniConfDir: args.cniConfDir,
    cniBinDirs: args.cniBinDirs,
    connectivity: args.connectivity,
  };
  const facts = await (io.gather ?? ((o) => gatherFacts(o, { ...(io.runner ? { runner: io.runner } : {}), ...(io.env ? { env: io.env } : {}) })))(options);
  const results = runChecks(facts, checks);
  io.out(args.json ? formatJson(facts.hostname, results) : formatTable(results));
  return exitCodeOf(results);
}
