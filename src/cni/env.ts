/**
 * @module cni/env
 * The CNI_* environment: which variables each command needs (as libcni's skel requires them)
 * and the spec's rules for container IDs and interface names. Everything here is checked
 * before the plugin touches the disk.
 */
import { CniCode, CniError } from './cni-error.ts';
import { clip, CONTAINER_ID_LIMIT, IFNAME_LIMIT, utf8Length } from './limits.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
}

type EnvName = 'CNI_COMMAND' | 'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS' | 'CNI_PATH';

const REQUIRED: ReadonlyArray<[EnvName, ReadonlySet<CniCommand>]> = [
  ['CNI_CONTAINERID', new Set(['ADD', 'CHECK', 'DEL'])],
  ['CNI_NETNS', new Set(['ADD', 'CHECK'])],
  ['CNI_IFNAME', new Set(['ADD', 'CHECK', 'DEL'])],
  ['CNI_PATH', new Set(['ADD', 'CHECK', 'DEL', 'GC'])],
];

export type EnvSource = Readonly<Record<string, string | undefined>>;

/** True when the process was started without CNI_COMMAND (a human ran it): print "about", exit 0. */
export function hasNoCommand(env: EnvSource): boolean {
  return (env.CNI_COMMAND ?? '') === '';
}

/** Reads and checks the CNI_* variables: code 4 for a missing variable or an unknown command. */
export function parseCniEnv(env: EnvSource): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw new CniError(CniCode.InvalidEnvironment, 'required env variables [CNI_COMMAND] missing');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CniCode.InvalidEnvironment, `unknown CNI_COMMAND: ${clip(command, 64)}`, `supported commands: ${COMMANDS.join(', ')}`);
  }
  const cmd = command as CniCommand;
  const missing: string[] = [];
  for (const [name, cmds] of REQUIRED) if (cmds.has(cmd) && (env[name] ?? '') === '') missing.push(name);
  if (missing.length > 0) throw new CniError(CniCode.InvalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  const parsed: CniEnv = {
    command: cmd,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: env.CNI_PATH ?? '',
  };
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    validateContainerId(parsed.containerId);
    validateInterfaceName(parsed.ifname);
  }
  return parsed;
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/**
 * Whether `text` is made of ASCII letters and digits only: a container ID, interface name or
 * network name of the usual kind (hex, `eth0`, `cbr0`) is then accepted without compiling and
 * running a regular expression (each one compiled costs a compiled plugin's start ~0.015 ms,
 * ~0.07 ms on a loaded box); anything else goes through the full rule.
 */
export function isAlnumOnly(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isAlnum(text.charCodeAt(i))) return false;
  return true;
}

/**
 * The spec's container ID: an alphanumeric, then alphanumerics, `_`, `.` or `-` (code 4,
 * "invalid characters in containerID", as libcni). The spec and libcni set no length, but the ID
 * names a file in dataDir, so it may have at most CONTAINER_ID_LIMIT (255) characters, the
 * longest Linux file name; the set leaves no `/` and no `.`/`..` to escape dataDir with.
 */
export function validateContainerId(id: string): void {
  if (id === '') throw new CniError(CniCode.UnknownContainer, 'missing containerID');
  if (!(isAlnumOnly(id) || CONTAINER_ID.test(id))) throw new CniError(CniCode.InvalidEnvironment, 'invalid characters in containerID', clip(id));
  if (id.length > CONTAINER_ID_LIMIT) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `containerID is too long: ${id.length} characters, the limit is ${CONTAINER_ID_LIMIT}`,
      `flannel saves each container's delegate configuration as <dataDir>/<containerID>, and a file name has at most ${CONTAINER_ID_LIMIT} bytes; container runtimes use 64-character IDs; this one starts "${id.slice(0, 64)}"`,
    );
  }
}

/** Linux interface name rules, as libcni checks them (code 4, libcni's messages); the length in bytes, as the kernel counts. */
export function validateInterfaceName(name: string): void {
  if (name === '') throw new CniError(CniCode.InvalidEnvironment, 'interface name is empty');
  const bytes = utf8Length(name);
  if (bytes > IFNAME_LIMIT) {
    throw new CniError(CniCode.InvalidEnvironment, 'interface name is too long', `interface name should be less than ${IFNAME_LIMIT + 1} characters; "${clip(name, 64)}" has ${bytes} bytes`);
  }
  if (name === '.' || name === '..') throw new CniError(CniCode.InvalidEnvironment, 'interface name is . or ..');
  if (!isAlnumOnly(name) && /[/:\s]/u.test(name)) throw new CniError(CniCode.InvalidEnvironment, 'interface name contains / or : or whitespace characters', name);
}
