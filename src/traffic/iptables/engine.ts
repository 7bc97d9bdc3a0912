/**
 * @module traffic/iptables/engine
 * The iptables engine: reads a table with `iptables-save -t <table>`, compares our chain and its
 * jump with the wanted ones, and repairs both in one `iptables-restore -w --noflush` per family
 * (one `*table ... COMMIT` block per table, so each table changes atomically). IPv6 uses the
 * ip6tables tools with the same chains.
 */
import { TrafficError, describeError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import type { FamilyRules, RuleEngine, RuleKind } from '../rule-engine.ts';
import { familyLabel } from '../rule-engine.ts';
import { commandFailed, runChecked, type RuleRunner } from '../runner.ts';
import { FAMILY_KEYS, type FamilyKey } from '../traffic-manager.ts';
import { diffChain, ensureBlock, removalBlock } from './plan.ts';
import { FORWARD_CHAIN, MASQ_CHAIN, OUR_CHAINS, forwardChain, masqChain, type ChainRef, type ChainSpec } from './rules.ts';
import { parseSave, type TableDump } from './save-parser.ts';
import { parseIptablesVersion, type IptablesCaps } from './version.ts';

interface Tools {
  iptables: string;
  save: string;
  restore: string;
}

const TOOLS: Record<FamilyKey, Tools> = {
  v4: { iptables: 'iptables', save: 'iptables-save', restore: 'iptables-restore' },
  v6: { iptables: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore' },
};

export class IptablesEngine implements RuleEngine {
  readonly kind = 'iptables' as const;
  readonly #runner: RuleRunner;
  readonly #log: Logger;
  readonly #caps = new Map<FamilyKey, IptablesCaps>();

  constructor(runner: RuleRunner, log: Logger) {
    this.#runner = runner;
    this.#log = log;
  }

  async sync(family: FamilyKey, want: FamilyRules, signal: AbortSignal, focus?: RuleKind): Promise<string[]> {
    const caps = await this.capabilities(family, signal);
    const blocks: string[] = [];
    const changed: string[] = [];
    const wanted: Array<[RuleKind, ChainRef, ChainSpec | 'absent' | undefined]> = [
      ['forward', FORWARD_CHAIN, want.forward === undefined || want.forward === 'absent' ? want.forward : forwardChain(want.forward)],
      ['masq', MASQ_CHAIN, want.masq === undefined || want.masq === 'absent' ? want.masq : masqChain(want.masq, want.masq.fullyRandom && caps.randomFully)],
    ];
    const needed = wanted.filter(([kind, , spec]) => spec !== undefined && (focus === undefined || kind === focus));
    // Both tables from one iptables-save: a resync every 5 s forks half as often (each fork of a
    // daemon and each iptables run is most of what an idle flanneld costs).
    const everyTable = needed.length > 1 ? await this.#saveText(family, undefined, signal) : undefined;
    for (const [, ref, spec] of needed) {
      if (spec === undefined) continue;
      const dump = everyTable === undefined ? await this.#save(family, ref.table, signal) : parseSave(everyTable, ref.table);
      if (spec === 'absent') {
        const block = removalBlock(ref, dump);
        if (block) {
          blocks.push(block);
          changed.push(`${ref.table}/${ref.chain}: removed`);
        }
        continue;
      }
      const problems = diffChain(spec, dump);
      if (problems.length > 0) {
        blocks.push(ensureBlock(spec, dump));
        changed.push(...problems);
      }
    }
    if (blocks.length > 0) await this.#restore(family, caps, blocks.join(''), signal);
    return changed;
  }

  async cleanUp(signal: AbortSignal): Promise<void> {
    const failures: unknown[] = [];
    for (const family of FAMILY_KEYS) {
      const blocks: string[] = [];
      for (const ref of OUR_CHAINS) {
        let dump: TableDump;
        try {
          dump = await this.#save(family, ref.table, signal);
        } catch (err) {
          signal.throwIfAborted();
          // Nothing readable means nothing of ours to remove (no ip6tables, IPv6 disabled, ...).
          this.#log.debug('cannot read table for clean-up; skipping it', { family: familyLabel(family), table: ref.table, error: describeError(err) });
          continue;
        }
        const block = removalBlock(ref, dump);
        if (block) blocks.push(block);
      }
      if (blocks.length === 0) continue;
      try {
        await this.#restore(family, await this.capabilities(family, signal), blocks.join(''), signal);
      } catch (err) {
        signal.throwIfAborted();
        failures.push(err);
      }
    }
    const first = failures[0];
    if (first !== undefined) {
      if (failures.length === 1 && first instanceof TrafficError) throw first;
      throw new TrafficError('E_TRAFFIC_CLEANUP', `iptables clean-up failed: ${failures.map(describeError).join('; ')}`, { cause: first });
    }
  }

  /** `iptables --version` once per family (cached after success). */
  async capabilities(family: FamilyKey, signal: AbortSignal): Promise<IptablesCaps> {
    const known = this.#caps.get(family);
    if (known) return known;
    const tool = TOOLS[family].iptables;
    const caps = parseIptablesVersion(await runChecked(this.#runner, tool, ['--version'], { signal }));
    if (caps.version === undefined) {
      this.#log.warn(`cannot tell the ${tool} version; assuming no --random-fully and no -w`, { family: familyLabel(family) });
    } else if (!caps.randomFully) {
      this.#log.warn(`${tool} ${caps.version} predates --random-fully (1.6.2); masquerading without it`);
    }
    this.#log.debug('iptables detected', { tool, version: caps.version, backend: caps.backend, randomFully: caps.randomFully });
    this.#caps.set(family, caps);
    return caps;
  }

  async #save(family: FamilyKey, table: string, signal: AbortSignal): Promise<TableDump> {
    return parseSave(await this.#saveText(family, table, signal), table);
  }

  /** `iptables-save -t <table>`, or every table the family has loaded when `table` is undefined. */
  async #saveText(family: FamilyKey, table: string | undefined, signal: AbortSignal): Promise<string> {
    const tool = TOOLS[family].save;
    const args = table === undefined ? [] : ['-t', table];
    const res = await this.#runner.run(tool, args, { signal });
    if (res.code !== 0) throw commandFailed(tool, args, res);
    return res.stdout;
  }

  async #restore(family: FamilyKey, caps: IptablesCaps, payload: string, signal: AbortSignal): Promise<void> {
    const args = caps.restoreWait ? ['-w', '--noflush'] : ['--noflush'];
    this.#log.trace('iptables-restore', { family: familyLabel(family), payload });
    await runChecked(this.#runner, TOOLS[family].restore, args, { stdin: payload, signal });
  }
}
