/**
 * @module doctor/checks/firewall-rules
 * The host firewall as one model, read from `iptables-save` text (legacy and nft variants) and
 * `nft list ruleset` text, and a walk that says what a base chain does with one packet. Matches
 * the walk does not understand make a rule "maybe": a verdict reached past such a rule is
 * reported as uncertain instead of claimed.
 */
import { Cidr, IPAddress } from '../../ip/index.ts';

export interface Packet {
  /** Protocol name or number ("udp", "4"); undefined: any (a condition on it is unknown). */
  readonly proto?: string;
  readonly dport?: number;
  readonly src?: IPAddress;
  readonly dst?: IPAddress;
  readonly iif?: string;
  readonly oif?: string;
}

/** true / false, or undefined when the rule tests something the walk does not model. */
type Test = (p: Packet) => boolean | undefined;

export type Verdict = { readonly kind: 'accept' | 'drop' | 'return' | 'continue' } | { readonly kind: 'jump' | 'goto'; readonly chain: string };

export interface Rule {
  /** As printed: `-A INPUT -p udp ... -j DROP`, or the nft statement line. */
  readonly text: string;
  readonly chain: string;
  readonly tests: readonly Test[];
  readonly verdict: Verdict;
}

export interface Chain {
  readonly name: string;
  /** Netfilter hook of a base chain: input, forward, output, prerouting, postrouting. */
  readonly hook?: string;
  /** nft base chain type (filter, nat, route); "filter" for iptables' filter table. */
  readonly type?: string;
  readonly policy?: 'accept' | 'drop';
  readonly rules: Rule[];
}

export interface Table {
  /** "iptables-nft", "iptables-legacy", "ip6tables-nft", "nft". */
  readonly source: string;
  /** nft family (ip, ip6, inet...); "ip"/"ip6" for iptables. */
  readonly family: string;
  readonly name: string;
  readonly chains: Map<string, Chain>;
}

const IPTABLES_HOOKS: Record<string, string> = { INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', PREROUTING: 'prerouting', POSTROUTING: 'postrouting' };
const PROTO_ALIASES: Record<string, string> = { ipencap: '4', ipip: '4', '4': '4', udp: 'udp', '17': 'udp', tcp: 'tcp', '6': 'tcp', icmp: 'icmp', '1': 'icmp', all: 'all' };

const canonProto = (p: string): string => PROTO_ALIASES[p.toLowerCase()] ?? p.toLowerCase();
const negate = (t: Test): Test => (p) => {
  const r = t(p);
  return r === undefined ? undefined : !r;
};
const unknown: Test = () => undefined;

function protoTest(names: string[]): Test {
  const want = names.map(canonProto);
  return (p) => (want.includes('all') ? true : p.proto === undefined ? undefined : want.includes(canonProto(p.proto)));
}

/** "8472", "8000:9000" (iptables), "8000-9000" (nft). */
function portTest(specs: string[]): Test {
  const ranges = specs.map((s) => {
    const [a, b] = s.split(/[:-]/);
    return [Number(a), Number(b ?? a)] as const;
  });
  return (p) => (p.dport === undefined ? undefined : ranges.some(([a, b]) => p.dport !== undefined && p.dport >= a && p.dport <= b));
}

function addrTest(specs: string[], field: 'src' | 'dst'): Test {
  const cidrs = specs.map((s) => Cidr.tryParse(s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`));
  if (cidrs.some((c) => c === undefined)) return unknown;
  return (p) => {
    const ip = p[field];
    return ip === undefined ? undefined : cidrs.some((c) => c?.contains(ip));
  };
}

function ifaceTest(specs: string[], field: 'iif' | 'oif'): Test {
  return (p) => {
    const name = p[field];
    if (name === undefined) return undefined;
    return specs.some((s) => (s.endsWith('+') || s.endsWith('*') ? name.startsWith(s.slice(0, -1)) : name === s));
  };
}

/** Our packets are NEW connections. */
function ctTest(states: string[]): Test {
  const s = states.map((x) => x.toLowerCase());
  return () => s.includes('new');
}

/** Our packets carry mark 0. */
function markTest(value: bigint, mask: bigint, op: 'eq' | 'ne' = 'eq'): Test {
  return () => ((0n & mask) === value) === (op === 'eq');
}

function num(s: string): bigint | undefined {
  try {
    return BigInt(s);
  } catch {
    return undefined;
  }
}

// ---------- iptables-save ----------

function tokenize(line: string): string[] {
  return line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function iptablesRule(chain: string, spec: string, chains: ReadonlySet<string>): Rule {
  const t = tokenize(spec);
  const tests: Test[] = [];
  let verdict: Verdict = { kind: 'continue' };
  let neg = false;
  const push = (test: Test): void => {
    tests.push(neg ? negate(test) : test);
    neg = false;
  };
  for (let i = 0; i < t.length; i++) {
    const tok = t[i] ?? '';
    const arg = t[i + 1] ?? '';
    if (tok === '!') {
      neg = true;
      continue;
    }
    switch (tok) {
      case '-p':
      case '--protocol':
        push(protoTest([arg]));
        i++;
        break;
      case '-s':
      case '--source':
        push(addrTest(arg.split(','), 'src'));
        i++;
        break;
      case '-d':
      case '--destination':
        push(addrTest(arg.split(','), 'dst'));
        i++;
        break;
      case '-i':
      case '--in-interface':
        push(ifaceTest([arg], 'iif'));
        i++;
        break;
      case '-o':
      case '--out-interface':
        push(ifaceTest([arg], 'oif'));
        i++;
        break;
      case '-m':
      case '--match':
        i++;
        break;
      case '--dport':
      case '--destination-port':
      case '--dports':
      case '--destination-ports':
        push(portTest(arg.split(',')));
        i++;
        break;
      case '--comment':
        i++;
        break;
      case '--ctstate':
      case '--state':
        push(ctTest(arg.split(',')));
        i++;
        break;
      case '--mark': {
        const [v, m] = arg.split('/');
        const value = num(v ?? '');
        const mask = m === undefined ? 0xffffffffn : num(m);
        push(value === undefined || mask === undefined ? unknown : markTest(value, mask));
        i++;
        break;
      }
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        const target = arg;
        if (target === 'ACCEPT') verdict = { kind: 'accept' };
        else if (target === 'DROP' || target === 'REJECT') verdict = { kind: 'drop' };
        else if (target === 'RETURN') verdict = { kind: 'return' };
        else if (chains.has(target)) verdict = { kind: tok === '-g' || tok === '--goto' ? 'goto' : 'jump', chain: target };
        i = t.length; // the rest are the target's options
        break;
      }
      default:
        // An option we do not model: the rule becomes "maybe"; skip its arguments.
        push(unknown);
        while (i + 1 < t.length && !(t[i + 1] ?? '').startsWith('-') && t[i + 1] !== '!') i++;
    }
  }
  return { text: `-A ${chain} ${spec}`.trim(), chain, tests, verdict };
}

/** Every table of one `iptables-save` output. */
export function parseIptablesSave(text: string, source: string, family: 'ip' | 'ip6'): Table[] {
  const tables: Table[] = [];
  let current: { name: string; chains: Map<string, Chain>; pending: Array<[string, string]> } | undefined;
  const finish = (): void => {
    if (!current) return;
    const names = new Set(current.chains.keys());
    for (const [chain, spec] of current.pending) current.chains.get(chain)?.rules.push(iptablesRule(chain, spec, names));
    tables.push({ source, family, name: current.name, chains: current.chains });
    current = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      finish();
      current = { name: line.slice(1), chains: new Map(), pending: [] };
    } else if (line === 'COMMIT') finish();
    else if (current && line.startsWith(':')) {
      const [name = '', policy = '-'] = line.slice(1).split(/\s+/);
      const hook = IPTABLES_HOOKS[name];
      current.chains.set(name, { name, ...(hook ? { hook } : {}), ...(policy !== '-' ? { policy: policy === 'ACCEPT' ? 'accept' : 'drop' } : {}), rules: [] });
    } else if (current) {
      const m = /^(?:\[\d+:\d+\]\s+)?-A\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (m?.[1]) {
        if (!current.chains.has(m[1])) current.chains.set(m[1], { name: m[1], rules: [] });
        current.pending.push([m[1], (m[2] ?? '').trim()]);
      }
    }
  }
  finish();
  return tables;
}

/** Number of rules (-A lines) in an iptables-save output. */
export function countIptablesRules(text: string): number {
  return text.split('\n').filter((l) => /^(?:\[\d+:\d+\]\s+)?-A\s/.test(l.trim())).length;
}

// ---------- nft list ruleset ----------

/** Values after a selector: one word, or a `{ a, b }` set; returns them and the index after. */
function nftValues(t: string[], i: number): [string[], number] {
  if (t[i] === '{') {
    const out: string[] = [];
    let j = i + 1;
    while (j < t.length && t[j] !== '}') {
      if (t[j] !== ',') out.push((t[j] ?? '').replace(/^"|"$/g, ''));
      j++;
    }
    return [out, j + 1];
  }
  return [(t[i] ?? '').replace(/^"|"$/g, '').split(','), i + 1];
}

const NFT_VERDICTS = new Set(['accept', 'drop', 'reject', 'return', 'jump', 'goto', 'continue', 'queue']);

function nftRule(chain: string, line: string): Rule {
  const t = line.match(/"(?:[^"\\]|\\.)*"|[{},]|[^\s{},]+/g) ?? [];
  const tests: Test[] = [];
  let verdict: Verdict = { kind: 'continue' };
  let i = 0;
  while (i < t.length) {
    const a = t[i] ?? '';
    const b = t[i + 1] ?? '';
    // An optional operator after a selector.
    const withOp = (start: number): { neg: boolean; at: number } => {
      const op = t[start];
      if (op === '!=') return { neg: true, at: start + 1 };
      if (op === '==') return { neg: false, at: start + 1 };
      return { neg: false, at: start };
    };
    const take = (start: number, make: (vals: string[]) => Test): void => {
      const { neg, at } = withOp(start);
      const [vals, next] = nftValues(t, at);
      const test = make(vals);
      tests.push(neg ? negate(test) : test);
      i = next;
    };
    if (a === 'counter') {
      i += t[i + 1] === 'packets' ? 5 : 1;
    } else if (a === 'comment' || a === 'prefix' || a === 'level' || a === 'flags') {
      i += 2;
    } else if (a === 'log') {
      i += 1;
    } else if ((a === 'udp' || a === 'tcp' || a === 'th') && (b === 'dport' || b === 'sport')) {
      if (a !== 'th') tests.push(protoTest([a]));
      if (b === 'dport') take(i + 2, portTest);
      else take(i + 2, () => unknown);
    } else if ((a === 'meta' && b === 'l4proto') || (a === 'ip' && b === 'protocol') || (a === 'ip6' && b === 'nexthdr')) {
      take(i + 2, protoTest);
    } else if ((a === 'ip' || a === 'ip6') && (b === 'saddr' || b === 'daddr')) {
      take(i + 2, (vals) => addrTest(vals, b === 'saddr' ? 'src' : 'dst'));
    } else if (a === 'iifname' || a === 'oifname' || a === 'iif' || a === 'oif') {
      take(i + 1, (vals) => ifaceTest(vals, a.startsWith('i') ? 'iif' : 'oif'));
    } else if (a === 'meta' && (b === 'iifname' || b === 'oifname')) {
      take(i + 2, (vals) => ifaceTest(vals, b === 'iifname' ? 'iif' : 'oif'));
    } else if (a === 'ct' && b === 'state') {
      take(i + 2, ctTest);
    } else if (a === 'meta' && b === 'mark' && t[i + 2] === '&') {
      const mask = num(t[i + 3] ?? '');
      const { neg, at } = withOp(i + 4);
      const value = num(t[at] ?? '');
      tests.push(mask === undefined || value === undefined ? unknown : markTest(value, mask, neg ? 'ne' : 'eq'));
      i = at + 1;
    } else if (NFT_VERDICTS.has(a)) {
      if (a === 'accept') verdict = { kind: 'accept' };
      else if (a === 'drop' || a === 'reject') verdict = { kind: 'drop' };
      else if (a === 'return') verdict = { kind: 'return' };
      else if (a === 'jump' || a === 'goto') verdict = { kind: a, chain: b };
      break;
    } else {
      tests.push(unknown);
      // Skip to the verdict: what stands between is part of a match we do not model.
      while (i < t.length && !NFT_VERDICTS.has(t[i] ?? '') && t[i] !== 'counter') i++;
    }
  }
  return { text: line.replace(/\s*counter packets \d+ bytes \d+/, '').replace(/\s+/g, ' ').trim(), chain, tests, verdict };
}

/** Every table of `nft list ruleset`. */
export function parseNftRuleset(text: string, source = 'nft'): Table[] {
  const tables: Table[] = [];
  let table: Table | undefined;
  let chain: { name: string; hook?: string; type?: string; policy?: 'accept' | 'drop'; rules: Rule[] } | undefined;
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const opens = /\{\s*$/.test(line);
    if (depth === 0) {
      const m = /^table\s+(\S+)\s+(\S+)\s*\{$/.exec(line);
      if (m) {
        table = { source, family: m[1] ?? '', name: m[2] ?? '', chains: new Map() };
        tables.push(table);
        depth = 1;
      }
      continue;
    }
    if (depth === 1) {
      if (line === '}') {
        depth = 0;
        table = undefined;
        continue;
      }
      const m = /^chain\s+(\S+)\s*\{$/.exec(line);
      if (m && table) {
        chain = { name: m[1] ?? '', rules: [] };
        table.chains.set(chain.name, chain);
        depth = 2;
      } else if (opens) depth = 3; // a set, map, flowtable...: skipped whole
      continue;
    }
    if (depth === 3) {
      if (line.startsWith('}')) depth = 1;
      else if (opens) depth = 4;
      continue;
    }
    if (depth === 4) {
      if (line.startsWith('}')) depth = 3;
      continue;
    }
    // depth 2: inside a chain
    if (line === '}') {
      depth = 1;
      chain = undefined;
      continue;
    }
    if (!chain) continue;
    const base = /^type\s+(\S+)\s+hook\s+(\S+)\s+.*?(?:policy\s+(accept|drop);)?\s*$/.exec(line);
    if (base) {
      chain.type = base[1];
      chain.hook = base[2];
      chain.policy = base[3] === 'drop' ? 'drop' : 'accept';
      continue;
    }
    if (/^(comment|policy|devices)\s/.test(line)) continue;
    chain.rules.push(nftRule(chain.name, line));
  }
  return tables;
}

// ---------- the walk ----------

export interface Outcome {
  readonly verdict: 'accept' | 'drop';
  /** The rule that decided, or "policy DROP". */
  readonly by: string;
  /** Chain of the deciding rule (undefined for the policy). */
  readonly chain?: string;
  /** Rules with matches the walk could not evaluate that would have decided otherwise, before the verdict. */
  readonly unsure: readonly string[];
}

type Step = { readonly end: 'accept' | 'drop'; readonly by: string; readonly chain: string } | { readonly end: 'fall' };

function allTrue(tests: readonly Test[], p: Packet): boolean | undefined {
  let unknownSeen = false;
  for (const t of tests) {
    const r = t(p);
    if (r === false) return false;
    if (r === undefined) unknownSeen = true;
  }
  return unknownSeen ? undefined : true;
}

function walk(table: Table, chain: Chain, p: Packet, unsure: Array<{ verdict: 'accept' | 'drop'; text: string }>, maybe: boolean, depth: number): Step {
  if (depth > 32) return { end: 'fall' };
  for (const rule of chain.rules) {
    const m = allTrue(rule.tests, p);
    if (m === false) continue;
    const sure = m === true && !maybe;
    const v = rule.verdict;
    if (v.kind === 'accept' || v.kind === 'drop') {
      if (sure) return { end: v.kind, by: rule.text, chain: chain.name };
      unsure.push({ verdict: v.kind, text: rule.text });
      continue;
    }
    if (v.kind === 'return') {
      if (sure) return { end: 'fall' };
      continue;
    }
    if (v.kind === 'jump' || v.kind === 'goto') {
      const sub = table.chains.get(v.chain);
      if (!sub) continue;
      const r = walk(table, sub, p, unsure, !sure, depth + 1);
      if (sure && r.end !== 'fall') return r;
      if (sure && v.kind === 'goto') return { end: 'fall' };
    }
  }
  return { end: 'fall' };
}

/** What `chain` (a base chain) does with `p`: its verdict, and any rule that might have decided otherwise first. */
export function evaluate(table: Table, chain: Chain, p: Packet): Outcome {
  const unsure: Array<{ verdict: 'accept' | 'drop'; text: string }> = [];
  const step = walk(table, chain, p, unsure, false, 0);
  const verdict = step.end === 'fall' ? (chain.policy ?? 'accept') : step.end;
  const by = step.end === 'fall' ? `policy ${verdict.toUpperCase()}` : step.by;
  const other = unsure.filter((u) => u.verdict !== verdict).map((u) => u.text);
  return { verdict, by, ...(step.end !== 'fall' ? { chain: step.chain } : {}), unsure: other };
}

/** The base chains of `tables` on `hook` (filter chains only for nft: nat chains do not drop). */
export function baseChains(tables: readonly Table[], hook: string): Array<{ table: Table; chain: Chain }> {
  const out: Array<{ table: Table; chain: Chain }> = [];
  for (const table of tables) {
    const iptables = table.source.includes('tables');
    if (iptables && table.name !== 'filter') continue;
    for (const chain of table.chains.values()) if (chain.hook === hook && (iptables || chain.type === 'filter')) out.push({ table, chain });
  }
  return out;
}
