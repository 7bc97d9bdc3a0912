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
  /**
   * Whether the delegate may answer the runtime itself (its stdout and stderr are ours): the
   * compiled plugin then neither captures nor re-prints the result (runPluginAnswering).
   */
  delegateMayAnswer: boolean;
}

/** The delegate has answered the runtime on our stdout; the plugin exits with its status. */
export interface DelegateAnswered {
  readonly delegateAnswered: true;
  readonly exitCode: number;
}

export type CommandResult = string | DelegateAnswered;

export type Command = (ctx: CommandContext) => CommandResult | Promise<CommandResult>;
