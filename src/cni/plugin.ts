/**
 * @module cni/plugin
 * The dispatcher: environment -> command -> stdout and exit status, with every failure rendered as
 * a CNI error result. No process globals here (the entry point passes them in), so tests can drive it.
 */
import { asCniError, CniCode, CniError } from './cni-error.ts';
import { cmdAdd } from './commands/add.ts';
import { cmdCheck } from './commands/check.ts';
import type { Command } from './commands/context.ts';
import { cmdDel } from './commands/del.ts';
import { cmdGc } from './commands/gc.ts';
import { cmdStatus } from './commands/status.ts';
import { hasNoCommand, parseCniEnv, type CniCommand, type EnvSource } from './env.ts';
import { STDIN_LIMIT, sizeText } from './limits.ts';
import { errnoCode, TOO_LARGE } from './sys/sys.ts';
import { LATEST_VERSION, SUPPORTED_VERSIONS, versionInfo } from './versions.ts';

export interface PluginIO {
  env: EnvSource;
  /**
   * Reads all of stdin, at most `limit` bytes (called once, never for VERSION). More is an error
   * with code `TOO_LARGE` (sys/sys.ts), which becomes the CNI error saying so.
   */
  readStdin: (limit: number) => string | Promise<string>;
  /** The program's own version, for the text shown when no CNI_COMMAND is set. */
  programVersion: () => string;
  /** Whether a delegate may answer the runtime on our stdout itself (the compiled plugin). */
  delegateMayAnswer?: boolean;
}

export interface PluginOutcome {
  stdout: string;
  stderr: string;
  /** 0 or 1, or the status of a delegate that answered the runtime itself. */
  exitCode: number;
}

const COMMANDS: Record<Exclude<CniCommand, 'VERSION'>, Command> = {
  ADD: cmdAdd,
  DEL: cmdDel,
  CHECK: cmdCheck,
  STATUS: cmdStatus,
  GC: cmdGc,
};

/** The cniVersion to put in an error result: the configuration's, if it is one we speak. */
function errorVersion(stdin: string | undefined): string {
  if (stdin === undefined) return LATEST_VERSION;
  const m = /"cniVersion"\s*:\s*"([^"]*)"/.exec(stdin);
  const v = m?.[1];
  return v !== undefined && (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : LATEST_VERSION;
}

/** Code 5 (I/O failure, as libcni's skel reports a failed stdin read), saying what was wrong. */
export function stdinFailure(err: unknown): CniError {
  if (errnoCode(err) === TOO_LARGE) {
    return new CniError(
      CniCode.IOFailure,
      `error reading from stdin: the network configuration is larger than ${sizeText(STDIN_LIMIT)}, the plugin's limit`,
      'a flannel network configuration is a few hundred bytes, a few KiB with what the runtime adds (prevResult, runtimeConfig, the attachment list of GC); ' +
        'check what the runtime passes on stdin: the flannel entry of the conflist in /etc/cni/net.d',
    );
  }
  return new CniError(CniCode.IOFailure, `error reading from stdin: ${err instanceof Error ? err.message : String(err)}`);
}

export function aboutText(programVersion: string): string {
  return `CNI Plugin flannel (flannel-ts) version ${programVersion}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}

export async function runCni(io: PluginIO): Promise<PluginOutcome> {
  if (hasNoCommand(io.env)) return { stdout: '', stderr: aboutText(io.programVersion()), exitCode: 0 };
  let stdin: string | undefined;
  let stderr = '';
  try {
    const env = parseCniEnv(io.env);
    if (env.command === 'VERSION') return { stdout: `${JSON.stringify(versionInfo())}\n`, stderr, exitCode: 0 };
    try {
      stdin = await io.readStdin(STDIN_LIMIT);
    } catch (err) {
      throw stdinFailure(err);
    }
    const result = await COMMANDS[env.command]({ env, rawEnv: io.env, stdin, warn: (line) => (stderr += `${line}\n`), delegateMayAnswer: io.delegateMayAnswer ?? false });
    if (typeof result !== 'string') return { stdout: '', stderr, exitCode: result.exitCode };
    return { stdout: result, stderr, exitCode: 0 };
  } catch (err) {
    const e = asCniError(err);
    return { stdout: `${JSON.stringify(e.toResult(errorVersion(stdin)))}\n`, stderr, exitCode: 1 };
  }
}
