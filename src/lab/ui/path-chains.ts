/**
 * @module lab/ui/path-chains
 * The filter and NAT chains a traced packet crosses: `iptables -S` and `nft list chain` rules
 * read into one form, and a walk from a base chain through its jumps to the verdict. A rule that
 * tests what the trace does not know (conntrack state, physdev) is skipped and named. Pure.
 */
import { Cidr, IPAddress } from '../../ip/index.ts';
import { words } from './path-parse.ts';

/** What a rule compares a packet with. */
export interface RuleMatch {
  readonly field: 'src' | 'dst' | 'iif' | 'oif' | 'proto' | 'dport' | 'mark';
  readonly negated: boolean;
  readonly value: string;
}

export type RuleAction =
  | { readonly kind: 'verdict'; readonly verdict: 'accept' | 'drop' | 'reject' | 'return' | 'masquerade' | 'snat' | 'dnat' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  /** A target that lets the packet go on (LOG, MARK, counter only, ...). */
  | { readonly kind: 'continue' };

export interface Rule {
  /** The rule as the command printed it. */
  readonly text: string;
  readonly matches: readonly RuleMatch[];
  /** Parts of the rule this module does not evaluate (the rule is then skipped, and said so). */
  readonly unknown: readonly string[];
  readonly action: RuleAction;
}

export interface Chain {
  readonly name: string;
  /** A base chain's policy ("ACCEPT", "DROP"); undefined for a user chain. */
  readonly policy?: string;
  /** How the policy reads where it was printed: "-P FORWARD DROP", "policy accept". */
  readonly policyText?: string;
  readonly rules: readonly Rule[];
}

const IPT_VERDICTS: Record<string, 'accept' | 'drop' | 'reject' | 'return' | 'masquerade' | 'snat' | 'dnat'> = {
  ACCEPT: 'accept',
  DROP: 'drop',
  REJECT: 'reject',
  RETURN: 'return',
  MASQUERADE: 'masquerade',
  SNAT: 'snat',
  DNAT: 'dnat',
};
const NON_TERMINATING = new Set(['LOG', 'NFLOG', 'MARK', 'CONNMARK', 'TRACE', 'CT', 'CLASSIFY', 'TCPMSS', 'DSCP', 'TOS', 'NOTRACK', 'AUDIT', 'CHECKSUM', 'SET']);
const IPT_OPTIONS: Record<string, RuleMatch['field']> = {
  '-s': 'src',
  '--source': 'src',
  '-d': 'dst',
  '--destination': 'dst',
  '-i': 'iif',
  '--in-interface': 'iif',
  '-o': 'oif',
  '--out-interface': 'oif',
  '-p': 'proto',
  '--protocol': 'proto',
  '--dport': 'dport',
  '--destination-port': 'dport',
  '--mark': 'mark',
};
/** Modules whose options are read above (or carry none that change the match). */
const IPT_MODULES = new Set(['comment', 'udp', 'tcp', 'mark']);

/** One `-A <chain> ...` line of `iptables -S`. */
export function parseIptablesRule(line: string): Rule {
  const ws = words(line).slice(2);
  const matches: RuleMatch[] = [];
  const unknown: string[] = [];
  let action: RuleAction = { kind: 'continue' };
  let negated = false;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i] ?? '';
    if (w === '!') {
      negated = true;
      continue;
    }
    const field = IPT_OPTIONS[w];
    if (field) {
      matches.push({ field, negated, value: ws[++i] ?? '' });
    } else if (w === '-m' || w === '--match') {
      const module = ws[++i] ?? '';
      if (!IPT_MODULES.has(module)) unknown.push(`-m ${module}`);
    } else if (w === '--comment') {
      i++;
    } else if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
      const target = ws[++i] ?? '';
      const verdict = IPT_VERDICTS[target];
      action = verdict ? { kind: 'verdict', verdict } : NON_TERMINATING.has(target) ? { kind: 'continue' } : { kind: w.startsWith('-g') || w === '--goto' ? 'goto' : 'jump', chain: target };
      break; // the rest are the target's own options (--random-fully, --to-source, ...)
    } else if (w.startsWith('-')) {
      unknown.push(w);
      while (ws[i + 1] !== undefined && !(ws[i + 1] ?? '').startsWith('-') && ws[i + 1] !== '!') unknown.push(ws[++i] ?? '');
    } else {
      unknown.push(w);
    }
    negated = false;
  }
  return { text: line.trim(), matches, unknown, action };
}

/** `iptables [-t table] -S <chain>`: its policy (a built-in chain) and rules. */
export function parseIptablesChain(text: string, name: string): Chain {
  const lines = text.split('\n').map((l) => l.trim());
  const policyLine = lines.find((l) => l.startsWith(`-P ${name} `));
  const rules = lines.filter((l) => l.startsWith(`-A ${name} `)).map(parseIptablesRule);
  return { name, ...(policyLine ? { policy: policyLine.split(/\s+/)[2] ?? 'ACCEPT', policyText: policyLine } : {}), rules };
}

const NFT_VERDICTS: Record<string, 'accept' | 'drop' | 'reject' | 'return' | 'masquerade' | 'snat' | 'dnat'> = {
  accept: 'accept',
  drop: 'drop',
  reject: 'reject',
  return: 'return',
  masquerade: 'masquerade',
  snat: 'snat',
  dnat: 'dnat',
};

/** One rule line of `nft list chain ...`. */
export function parseNftRule(line: string): Rule {
  const ws = words(line.trim());
  const matches: RuleMatch[] = [];
  const unknown: string[] = [];
  let action: RuleAction = { kind: 'continue' };
  let i = 0;
  const next = (): string => ws[i++] ?? '';
  /** An optional "==" / "!=" then the value. */
  const operand = (): { negated: boolean; value: string } => {
    const op = ws[i];
    if (op === '!=' || op === '==') i++;
    return { negated: op === '!=', value: next() };
  };
  while (i < ws.length) {
    const w = next();
    const pair = `${w} ${ws[i] ?? ''}`;
    if (pair === 'ip saddr' || pair === 'ip daddr' || pair === 'ip protocol' || pair === 'meta l4proto') {
      i++;
      matches.push({ field: pair === 'ip saddr' ? 'src' : pair === 'ip daddr' ? 'dst' : 'proto', ...operand() });
    } else if (w === 'iifname' || w === 'oifname') {
      matches.push({ field: w === 'iifname' ? 'iif' : 'oif', ...operand() });
    } else if ((w === 'udp' || w === 'tcp') && ws[i] === 'dport') {
      i++;
      matches.push({ field: 'proto', negated: false, value: w }, { field: 'dport', ...operand() });
    } else if (pair === 'meta mark') {
      i++;
      let mask = '0xffffffff';
      if (ws[i] === '&') {
        i++;
        mask = next();
      }
      const { negated, value } = operand();
      matches.push({ field: 'mark', negated, value: `${value}/${mask}` });
    } else if (w === 'counter') {
      if (ws[i] === 'packets') i += 4;
    } else if (w === 'comment') {
      i++;
    } else if (NFT_VERDICTS[w]) {
      action = { kind: 'verdict', verdict: NFT_VERDICTS[w] };
      break;
    } else if (w === 'jump' || w === 'goto') {
      action = { kind: w, chain: next() };
      break;
    } else if (w === 'continue' || w === 'log') {
      break;
    } else {
      unknown.push(w);
    }
  }
  return { text: line.trim(), matches, unknown, action };
}

/** `nft list chain <family> <table> <chain>`: the chain's policy and rules. */
export function parseNftChain(text: string, name: string): Chain {
  const rules: Rule[] = [];
  let policy: string | undefined;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (l === '' || l === '}' || /^(table|chain|comment) /.test(l)) continue;
    const p = /^type .*\bpolicy (\w+);/.exec(l);
    if (p) policy = p[1];
    else if (!l.startsWith('type ')) rules.push(parseNftRule(l));
  }
  return { name, ...(policy ? { policy: policy.toUpperCase(), policyText: `policy ${policy}` } : {}), rules };
}

/** The packet as the chains see it. Fields left out are unknown to the trace (a rule testing them is skipped). */
export interface Packet {
  readonly src: IPAddress;
  readonly dst: IPAddress;
  readonly iif?: string;
  readonly oif?: string;
  readonly proto?: string;
  readonly dport?: number;
}

const PROTO_NUMBERS: Record<string, string> = { '1': 'icmp', '6': 'tcp', '17': 'udp' };

function interfaceMatches(pattern: string, name: string): boolean {
  return /[+*]$/.test(pattern) ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** Whether `m` holds for `p`; undefined when the trace cannot tell. */
export function matchHolds(m: RuleMatch, p: Packet): boolean | undefined {
  let holds: boolean | undefined;
  switch (m.field) {
    case 'src':
    case 'dst': {
      const c = Cidr.tryParse(m.value.includes('/') ? m.value : `${m.value}/32`);
      holds = c ? c.contains(m.field === 'src' ? p.src : p.dst) : undefined;
      break;
    }
    case 'iif':
    case 'oif': {
      const name = m.field === 'iif' ? p.iif : p.oif;
      holds = name === undefined ? undefined : interfaceMatches(m.value, name);
      break;
    }
    case 'proto':
      holds = p.proto === undefined ? undefined : (PROTO_NUMBERS[m.value] ?? m.value) === p.proto;
      break;
    case 'dport': {
      const [lo = NaN, hi = lo] = m.value.split(/[:-]/).map(Number);
      holds = p.dport === undefined || Number.isNaN(lo) ? undefined : p.dport >= lo && p.dport <= hi;
      break;
    }
    case 'mark': {
      // The path's packets carry no mark: "--mark V/M" holds when 0 & M == V.
      const [value = '', mask = '0xffffffff'] = m.value.split('/');
      holds = Number.isNaN(Number(value)) || Number.isNaN(Number(mask)) ? undefined : (0 & Number(mask)) === Number(value);
      break;
    }
  }
  return holds === undefined ? undefined : holds !== m.negated;
}

/** Whether every match of `rule` holds for `p`; undefined when the trace cannot tell (and none fails). */
export function ruleHolds(rule: Rule, p: Packet): boolean | undefined {
  if (rule.unknown.length) return undefined;
  let holds: boolean | undefined = true;
  for (const m of rule.matches) {
    const h = matchHolds(m, p);
    if (h === false) return false;
    if (h === undefined) holds = undefined;
  }
  return holds;
}

/** What a walk through a base chain (and the chains it jumps to) decided. */
export interface ChainVerdict {
  /** "accept", "drop", "reject", "masquerade", ...: a rule's or the policy's. */
  readonly verdict: string;
  /** The rule or policy that decided, as printed. */
  readonly by: string;
  /** The rules that matched on the way (jumps, returns), then what decided. */
  readonly trail: readonly string[];
  /** Rules the trace could not evaluate (skipped as if they did not match). */
  readonly skipped: readonly string[];
}

/**
 * Walks `start` (a base chain) for `p`, following jumps and gotos into the chains `chainOf`
 * returns (undefined: the chain is not there, the jump does nothing). RETURN or the end of a user
 * chain goes back to its caller; the end of the base chain applies its policy.
 */
export function walkChain(chainOf: (name: string) => Chain | undefined, start: string, p: Packet): ChainVerdict {
  const skipped: string[] = [];
  const trail: string[] = [];
  const walk = (name: string, depth: number): { verdict: string; by: string } | undefined => {
    const chain = chainOf(name);
    if (!chain || depth > 16) return undefined;
    for (const rule of chain.rules) {
      const holds = ruleHolds(rule, p);
      if (holds === false) continue;
      if (holds === undefined) {
        skipped.push(rule.text);
        continue;
      }
      const a = rule.action;
      if (a.kind === 'continue') continue;
      trail.push(rule.text);
      if (a.kind === 'verdict') return a.verdict === 'return' ? undefined : { verdict: a.verdict, by: rule.text };
      const inner = walk(a.chain, depth + 1);
      if (inner || a.kind === 'goto') return inner;
    }
    return undefined;
  };
  const decided = walk(start, 0);
  if (decided) return { ...decided, trail, skipped };
  const base = chainOf(start);
  const by = base?.policyText ?? `${start}: no policy printed (ACCEPT)`;
  return { verdict: (base?.policy ?? 'ACCEPT').toLowerCase(), by, trail: [...trail, by], skipped };
}

/** A rule as a summary line shows it: without its comment match. */
export function ruleShort(text: string): string {
  return text.replace(/ -m comment --comment ("[^"]*"|\S+)/g, '').replace(/ comment "[^"]*"/g, '');
}
