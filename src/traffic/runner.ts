/**
 * @module traffic/runner
 * How the rule engines run iptables and nft: through the exec seam (exec/runner.ts), with
 * failures as TrafficErrors that carry the command's stderr and the input to replay by hand.
 */
import { TrafficError } from '../errors/index.ts';
import { COMMAND_NOT_FOUND, commandLine, type CommandRunner, type RunOptions, type RunResult } from '../exec/index.ts';

export { COMMAND_NOT_FOUND, execRunner, netnsRunner, type RunOptions, type RunResult } from '../exec/index.ts';

/** The runner the rule engines shell out through. */
export type RuleRunner = CommandRunner;

/** The TrafficError for a command that exited non-zero, carrying its stderr. */
export function commandFailed(command: string, args: readonly string[], res: RunResult, input?: string): TrafficError {
  const line = commandLine(command, args);
  if (res.code === COMMAND_NOT_FOUND) {
    return new TrafficError('E_TRAFFIC_NOT_FOUND', `${command} was not found (running "${line}")`, {
      hint: `install ${command} (package iptables or nftables) or choose the other engine with EnableNFTables`,
    });
  }
  const stderr = res.stderr.trim() || res.stdout.trim() || '(no output)';
  return new TrafficError('E_TRAFFIC_COMMAND', `"${line}" failed with exit code ${res.code}: ${stderr}`, {
    hint: input === undefined ? undefined : `to see the failure yourself, feed this to "${line}":\n${input}`,
  });
}

/** Runs a command and returns its stdout, throwing a TrafficError on a non-zero exit. */
export async function runChecked(runner: RuleRunner, command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const res = await runner.run(command, args, options);
  if (res.code !== 0) throw commandFailed(command, args, res, options.stdin);
  return res.stdout;
}
