/**
 * @module traffic/nftables/engine
 * The nftables engine: one table per family, listed with `nft -j list table` and, on any
 * difference, replaced in a single `nft -f -` transaction (declare, delete, define).
 */
import type { Logger } from '../../log/index.ts';
import type { FamilyRules, RuleEngine, RuleKind } from '../rule-engine.ts';
import { COMMAND_NOT_FOUND, commandFailed, runChecked, type RuleRunner } from '../runner.ts';
import { FAMILY_KEYS, type FamilyKey } from '../traffic-manager.ts';
import { diffTable } from './compare.ts';
import { parseListing, type ListedTable } from './listing.ts';
import { FULLY_RANDOM_PROBE, NFT_TABLES, deleteScript, replaceScript, wantedChains, type NftTable } from './script.ts';

const CHAIN_OF: ReadonlyArray<readonly [RuleKind, string]> = [
  ['masq', 'postrtg'],
  ['forward', 'forward'],
];

export class NftablesEngine implements RuleEngine {
  readonly kind = 'nftables' as const;
  readonly #runner: RuleRunner;
  readonly #log: Logger;
  #fullyRandom: boolean | undefined;

  constructor(runner: RuleRunner, log: Logger) {
    this.#runner = runner;
    this.#log = log;
  }

  async sync(family: FamilyKey, want: FamilyRules, signal: AbortSignal): Promise<string[]> {
    const table = NFT_TABLES[family];
    const needsProbe = want.masq !== undefined && want.masq !== 'absent' && want.masq.fullyRandom;
    const chains = wantedChains(table, want, needsProbe ? await this.fullyRandomSupported(signal) : false);
    const listed = await this.list(table, signal);
    // A kind not asked about yet (e.g. forward rules while masquerading is being set up) keeps its
    // chain from before, so replacing the table never opens a gap in the other kind's rules.
    const keep = CHAIN_OF.filter(([kind, name]) => want[kind] === undefined && listed?.chains.some((c) => c.name === name)).map(([, name]) => name);
    const problems = diffTable(`${table.family} ${table.name}`, chains, listed, keep);
    if (problems.length === 0) return [];
    let script = replaceScript(table, chains);
    for (const name of keep) {
      // `nft list chain` prints a complete `table ... { chain ... }` block that nft reads back as is.
      script += await runChecked(this.#runner, 'nft', ['list', 'chain', table.family, table.name, name], { signal });
    }
    await this.#apply(script, signal);
    return problems;
  }

  async cleanUp(signal: AbortSignal): Promise<void> {
    await this.#apply(FAMILY_KEYS.map((f) => deleteScript(NFT_TABLES[f])).join(''), signal);
  }

  /** The table as installed, or undefined when it does not exist. */
  async list(table: NftTable, signal: AbortSignal): Promise<ListedTable | undefined> {
    const args = ['-j', 'list', 'table', table.family, table.name];
    const res = await this.#runner.run('nft', args, { signal });
    if (res.code === 0) return parseListing(res.stdout);
    if (res.code !== COMMAND_NOT_FOUND && /No such file or directory/.test(res.stderr)) return undefined;
    throw commandFailed('nft', args, res);
  }

  /** Whether the kernel takes `masquerade fully-random`: checked once with `nft -c` (nothing is committed). */
  async fullyRandomSupported(signal: AbortSignal): Promise<boolean> {
    if (this.#fullyRandom !== undefined) return this.#fullyRandom;
    const res = await this.#runner.run('nft', ['-c', '-f', '-'], { stdin: FULLY_RANDOM_PROBE, signal });
    if (res.code === COMMAND_NOT_FOUND) throw commandFailed('nft', ['-c', '-f', '-'], res);
    this.#fullyRandom = res.code === 0;
    if (!this.#fullyRandom) this.#log.warn('nftables: masquerade fully-random is not supported; masquerading without it', { stderr: res.stderr.trim() });
    return this.#fullyRandom;
  }

  async #apply(script: string, signal: AbortSignal): Promise<void> {
    this.#log.trace('nft -f -', { script });
    await runChecked(this.#runner, 'nft', ['-f', '-'], { stdin: script, signal });
  }
}
