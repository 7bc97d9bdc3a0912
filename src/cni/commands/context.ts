/**
 * @module cni/commands/context
 * What every command gets: the checked CNI_* values, the raw environment (handed on to the
 * delegate unchanged) and stdin. A command returns what goes to stdout ('' for nothing).
 */
import type { CniEnv, EnvSource } from '../env.ts';

export interface CommandContext {
  env: CniEnv;
  rawEnv: EnvSource;
  stdin: string;
  /** Diagnostics for the runtime's log (never stdout). */
  warn: (line: string) => void;
}

export type Command = (ctx: CommandContext) => string | Promise<string>;
