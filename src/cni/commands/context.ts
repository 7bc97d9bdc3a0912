/**
 * @module cni/commands/context
 * What every command gets: the checked CNI_* values, the raw environment (handed on to the
 * delegate unchanged) and stdin. A command returns what goes to stdout ('' for nothing).
 */
import type { CniEnv, EnvSource } from '../env.ts';
import type { PluginRun } from '../invoke.ts';

export interface CommandContext {
  env: CniEnv;
  rawEnv: EnvSource;
  stdin: string;
  /** Diagnostics for the runtime's log (never stdout). */
  warn: (line: string) => void;
  /**
   * Present when the plugin may end by becoming its delegate (exec): flushes warnings, then
   * execs; returns only by throwing the CNI error for a plugin that cannot be started.
   */
  execDelegate?: (run: PluginRun) => never;
}

export type Command = (ctx: CommandContext) => string | Promise<string>;
