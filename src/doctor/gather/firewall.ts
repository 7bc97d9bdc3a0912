/**
 * @module doctor/gather/firewall
 * The firewall as both iptables variants and nftables report it: `iptables-legacy-save`,
 * `iptables-nft-save` (and the ip6 ones), `nft list ruleset`. A missing tool is an error value.
 */
import { COMMAND_NOT_FOUND, commandLine, type CommandRunner } from '../../exec/index.ts';
import { describeError } from '../../errors/index.ts';
import type { FirewallFacts, Read } from '../facts.ts';

const TIMEOUT_MS = 10_000;

/** stdout of a command, or why there is none. */
export async function commandOutput(runner: CommandRunner, command: string, args: readonly string[], timeoutMs = TIMEOUT_MS): Promise<Read<string>> {
  try {
    const r = await runner.run(command, args, { timeoutMs });
    if (r.code === COMMAND_NOT_FOUND) return { error: `${command} is not installed` };
    if (r.timedOut) return { error: `${commandLine(command, args)} did not finish within ${timeoutMs / 1000} s` };
    if (r.code !== 0) return { error: `${commandLine(command, args)} exited ${r.code}: ${r.stderr.trim().split('\n').slice(0, 3).join(' ')}` };
    return { value: r.stdout };
  } catch (err) {
    return { error: describeError(err) };
  }
}

export async function gatherFirewall(runner: CommandRunner): Promise<FirewallFacts> {
  const [legacy, nft, legacy6, nft6, nftRuleset] = await Promise.all([
    commandOutput(runner, 'iptables-legacy-save', []),
    commandOutput(runner, 'iptables-nft-save', []),
    commandOutput(runner, 'ip6tables-legacy-save', []),
    commandOutput(runner, 'ip6tables-nft-save', []),
    commandOutput(runner, 'nft', ['list', 'ruleset']),
  ]);
  return { iptables: { legacy, nft, legacy6, nft6 }, nftRuleset };
}
