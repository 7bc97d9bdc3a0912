/**
 * @module traffic/nftables/compare
 * Pure decision: does the listed table hold exactly the wanted chains and rules?
 */
import type { ListedTable } from './listing.ts';
import type { NftChainSpec } from './script.ts';

/**
 * What differs; empty when the table matches. `listed` undefined means the table does not exist.
 * Chains named in `keep` (kinds nobody asked about yet) are neither wanted nor unexpected.
 */
export function diffTable(tableName: string, want: readonly NftChainSpec[], listed: ListedTable | undefined, keep: readonly string[] = []): string[] {
  if (!listed) return want.length === 0 ? [] : [`table ${tableName}: missing`];
  if (want.length === 0 && keep.length === 0) return [`table ${tableName}: removed`];
  const problems: string[] = [];
  for (const w of want) {
    const where = `${tableName}/${w.name}`;
    const have = listed.chains.find((c) => c.name === w.name);
    if (!have) {
      problems.push(`${where}: chain missing`);
      continue;
    }
    if (have.type !== w.type || have.hook !== w.hook || have.prio !== w.prio || have.policy !== 'accept') {
      problems.push(`${where}: chain is "type ${have.type} hook ${have.hook} priority ${have.prio} policy ${have.policy}"`);
    }
    const missing = w.rules.filter((r) => !have.rules.includes(r)).length;
    const extra = have.rules.filter((r) => !w.rules.includes(r)).length;
    if (missing > 0 || extra > 0) problems.push(`${where}: ${missing} rule(s) missing, ${extra} unexpected`);
    else if (have.rules.length !== w.rules.length || have.rules.some((r, i) => r !== w.rules[i])) {
      problems.push(`${where}: rules out of order or duplicated`);
    }
  }
  for (const c of listed.chains) {
    if (!want.some((w) => w.name === c.name) && !keep.includes(c.name)) problems.push(`${tableName}/${c.name}: unexpected chain`);
  }
  return problems;
}
