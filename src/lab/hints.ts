/**
 * @module lab/hints
 * The commands the lab prints for its user to paste: how to call this CLI from where the user
 * stands (the `flannel-ts` command is not on the PATH after scripts/main.sh), how to address a
 * lab that has a non-default name or state directory, and what to try on a lab of a given build
 * (backend, DirectRouting, iptables or nftables, internal or external etcd).
 */
import { realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labBackend } from './backends.ts';

export const DEFAULT_LAB_NAME = 'lab';
export const LAB_STATE_ROOT = '/run/flannel-ts/lab';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

export function defaultStateDir(name: string): string {
  return join(LAB_STATE_ROOT, name);
}

/** Quotes one word for a POSIX shell, only when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * How the user runs this CLI from `cwd`: `node dist/cli/flannel-ts.js` from the checkout (what
 * scripts/main.sh does), the absolute path from anywhere else. From source (tests, development)
 * it is the tsx form of the same.
 */
export function cliCommand(cwd: string = process.cwd(), fromSource: boolean = RUNNING_FROM_SOURCE): string {
  const inCheckout = samePath(cwd, ROOT);
  const entry = join(ROOT, fromSource ? 'src/cli/flannel-ts.ts' : 'dist/cli/flannel-ts.js');
  const shown = inCheckout ? relative(ROOT, entry) : entry;
  if (!fromSource) return `node ${shellWord(shown)}`;
  // `--import tsx` resolves from the working directory: outside the checkout name tsx's file.
  const tsx = inCheckout ? 'tsx' : import.meta.resolve('tsx');
  return `node --import ${shellWord(tsx)} ${shellWord(shown)}`;
}

/** Addresses one lab: the CLI, `lab`, and --name / --state-dir when they are not the defaults. */
export interface LabAddress {
  readonly cli: string;
  readonly name: string;
  readonly stateDir: string;
}

/** `node dist/cli/flannel-ts.js lab [--name N] [--state-dir D]`, ready for a subcommand. */
export function labInvocation(a: LabAddress): string {
  const words = ['lab'];
  if (a.name !== DEFAULT_LAB_NAME) words.push('--name', a.name);
  if (a.stateDir !== defaultStateDir(a.name)) words.push('--state-dir', a.stateDir);
  return `${a.cli} ${words.map(shellWord).join(' ')}`;
}

/** What a lab was built with, as far as the commands to try depend on it. */
export interface HintFacts {
  readonly backend: string;
  readonly directRouting: boolean;
  readonly nftables: boolean;
  /** The cluster network, e.g. 10.244.0.0/16. */
  readonly network: string;
  /** Empty when the lab started its own etcd (reachable as `lab exec etcd`). */
  readonly externalEtcd: readonly string[];
  readonly etcdPrefix: string;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly underlayIP: string; readonly subnet?: string; readonly subnetFile: string }>;
  readonly pods: ReadonlyArray<{ readonly name: string; readonly node: string; readonly ip: string }>;
}

export interface Hint {
  readonly command: string;
  readonly comment: string;
}

/** The commands to try on a lab, each one fitting how it was built and runnable as printed. */
export function labHints(a: LabAddress, f: HintFacts): Hint[] {
  const lab = labInvocation(a);
  const exec = (target: string, cmd: string[]): string => `${lab} exec ${shellWord(target)} -- ${cmd.map(shellWord).join(' ')}`;
  const hints: Hint[] = [];
  const first = f.nodes[0];
  const second = f.nodes[1];
  const backend = labBackend(f.backend);
  if (first) {
    const via = second && backend ? backend.routeComment({ directRouting: f.directRouting, network: f.network, second }) : '';
    const route = second ? `${second.subnet ?? `${second.name}'s subnet`} (${second.name}) ${via}` : `${first.name}'s own routes (no other node)`;
    hints.push({ command: exec(first.name, ['ip', 'route']), comment: route });
    for (const h of backend?.hints({ directRouting: f.directRouting, ...(second ? { second } : {}) }) ?? []) hints.push({ command: exec(first.name, [...h.cmd]), comment: h.comment });
    if (f.nftables) {
      hints.push({ command: exec(first.name, ['nft', 'list', 'table', 'ip', 'flannel-ipv4']), comment: 'masquerade and forward rules (nftables)' });
    } else {
      hints.push({ command: exec(first.name, ['iptables', '-t', 'nat', '-S', 'FLANNEL-POSTRTG']), comment: 'masquerade rules (iptables)' });
      hints.push({ command: exec(first.name, ['iptables', '-S', 'FLANNEL-FWD']), comment: 'forward rules (iptables)' });
    }
    hints.push({ command: exec(first.name, ['cat', '/run/flannel/subnet.env']), comment: `what flanneld wrote for the CNI plugin (the node's own /run; from outside: ${first.subnetFile})` });
  }
  const pod = f.pods[0];
  const other = f.pods.find((p) => p.node !== pod?.node);
  if (pod && other) {
    hints.push({ command: exec(pod.name, ['ping', '-c', '3', other.ip]), comment: `${pod.name} -> ${other.name} on ${other.node}` });
    hints.push({ command: exec(pod.node, ['conntrack', '-L']), comment: `${pod.node}'s connection tracking (the pings above)` });
    hints.push({ command: `${lab} path ${shellWord(pod.name)} ${shellWord(other.name)}`, comment: `the packet's path from ${pod.name} to ${other.name} hop by hop, each hop with its kernel object` });
  }
  const keys = ['get', '--prefix', '--keys-only', `${f.etcdPrefix}/subnets`];
  if (f.externalEtcd.length === 0) hints.push({ command: exec('etcd', ['etcdctl', ...keys]), comment: "the nodes' leases in etcd" });
  else if (first) hints.push({ command: exec(first.name, ['etcdctl', `--endpoints=${f.externalEtcd.join(',')}`, ...keys]), comment: "the nodes' leases in etcd" });
  hints.push({ command: `${lab} doctor`, comment: "flannel-ts doctor on every node, one report (exit 1 if a check fails)" });
  hints.push({ command: `${lab} break --list`, comment: 'faults to inject with lab break and find with lab doctor' });
  hints.push({ command: `${lab} check`, comment: 'probe every pod pair again (exit 1 if one fails)' });
  hints.push({ command: `${lab} status`, comment: "nodes, pods, the last matrix, each node's routes and rules" });
  hints.push({ command: `${lab} down`, comment: 'remove every namespace, process and file of this lab' });
  return hints;
}

/** Hints as printed: two spaces, the command, then `# comment` (aligned, unless the command is very long). */
export function renderHints(hints: readonly Hint[]): string[] {
  const width = Math.max(0, ...hints.map((h) => h.command.length).filter((n) => n <= 72));
  return hints.map((h) => `  ${h.command.padEnd(width)}  # ${h.comment}`);
}
