/**
 * @module traffic/iptables/save-parser
 * Reads one table out of `iptables-save` output: its chains and rules, verbatim.
 */

export interface SavedRule {
  chain: string;
  /** The rule as printed after `-A <chain> `. */
  spec: string;
}

export interface TableDump {
  table: string;
  /** Every chain declared in the table (built-in and user-defined). */
  chains: Set<string>;
  /** Every rule, in save order. */
  rules: SavedRule[];
}

export function parseSave(text: string, table: string): TableDump {
  const dump: TableDump = { table, chains: new Set(), rules: [] };
  let inTable = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inTable = line.slice(1) === table;
      continue;
    }
    if (!inTable) continue;
    if (line === 'COMMIT') {
      inTable = false;
      continue;
    }
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (name) dump.chains.add(name);
      continue;
    }
    // With `iptables-save -c` a rule starts with its counters: `[12:345] -A CHAIN ...`.
    const rule = /^(?:\[\d+:\d+\]\s+)?-A\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (rule?.[1]) dump.rules.push({ chain: rule[1], spec: (rule[2] ?? '').trim() });
  }
  return dump;
}

/** True when the rule jumps (-j) or goes (-g) to `chain`. */
export function targets(spec: string, chain: string): boolean {
  return new RegExp(`(^|\\s)-[jg]\\s+${escape(chain)}(\\s|$)`).test(spec);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}
