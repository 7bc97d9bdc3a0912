/**
 * @module traffic/nftables/listing
 * Turns `nft -j list table <family> <name>` output into chains whose rules are written the way
 * script.ts writes them, so wanted and installed state compare as plain strings. Expressions we
 * never generate decode to a `?{json}` marker, which never matches and so triggers a repair.
 */
import { TrafficError } from '../../errors/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';

export interface ListedChain {
  name: string;
  type: string | undefined;
  hook: string | undefined;
  prio: number | undefined;
  policy: string | undefined;
  rules: string[];
}

export interface ListedTable {
  chains: ListedChain[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function parseListing(text: string): ListedTable {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new TrafficError('E_TRAFFIC_PARSE', `cannot parse "nft -j list table" output: ${(err as Error).message}`, { cause: err });
  }
  const items = isObject(doc) ? doc['nftables'] : undefined;
  if (!Array.isArray(items)) throw new TrafficError('E_TRAFFIC_PARSE', 'unexpected "nft -j list table" output: no "nftables" array');
  const chains = new Map<string, ListedChain>();
  const rules: Array<{ chain: string; text: string }> = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    const chain = item['chain'];
    if (isObject(chain)) {
      const name = str(chain['name']) ?? '';
      const prio = chain['prio'];
      chains.set(name, {
        name,
        type: str(chain['type']),
        hook: str(chain['hook']),
        prio: typeof prio === 'number' ? prio : undefined,
        policy: str(chain['policy']),
        rules: [],
      });
    }
    const rule = item['rule'];
    if (isObject(rule)) {
      const expr = rule['expr'];
      rules.push({ chain: str(rule['chain']) ?? '', text: Array.isArray(expr) ? expr.map(formatStatement).join(' ') : '' });
    }
  }
  for (const r of rules) chains.get(r.chain)?.rules.push(r.text);
  return { chains: [...chains.values()] };
}

function unknown(v: Json): string {
  try {
    return `?${JSON.stringify(v)}`;
  } catch {
    // Nested deeper than JSON.stringify can recurse (a RangeError): still a marker that never matches.
    return '?(an expression nested too deeply to print)';
  }
}

function formatStatement(stmt: Json): string {
  if (!isObject(stmt)) return unknown(stmt);
  const keys = Object.keys(stmt);
  const [key] = keys;
  if (keys.length !== 1 || key === undefined) return unknown(stmt);
  const body = stmt[key];
  switch (key) {
    case 'match':
      return isObject(body) ? formatMatch(body) : unknown(stmt);
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return body === null ? key : unknown(stmt);
    case 'jump':
    case 'goto':
      return isObject(body) && typeof body['target'] === 'string' ? `${key} ${body['target']}` : unknown(stmt);
    case 'masquerade': {
      if (body === null) return 'masquerade';
      if (!isObject(body) || Object.keys(body).some((k) => k !== 'flags')) return unknown(stmt);
      const flags = body['flags'];
      const list = Array.isArray(flags) ? flags.map((f) => str(f) ?? '?') : [str(flags) ?? '?'];
      return `masquerade ${list.join(',')}`;
    }
    case 'counter':
      return 'counter';
    default:
      return unknown(stmt);
  }
}

function formatMatch(m: JsonObject): string {
  const op = str(m['op']);
  const left = m['left'];
  const right = m['right'];
  if (op === undefined || left === undefined || right === undefined) return unknown(m);
  // `meta mark & 0x4000 == 0x4000`: bitwise matches always print their operator.
  if (isObject(left) && Array.isArray(left['&'])) {
    const [lhs, mask] = left['&'];
    const l = lhs === undefined ? undefined : formatOperand(lhs);
    if (l === undefined || typeof mask !== 'number' || typeof right !== 'number') return unknown(m);
    return `${l} & ${hex(mask)} ${op} ${hex(right)}`;
  }
  const l = formatOperand(left);
  const r = formatValue(right);
  if (l === undefined || r === undefined) return unknown(m);
  return op === '==' ? `${l} ${r}` : `${l} ${op} ${r}`;
}

function formatOperand(v: Json): string | undefined {
  if (!isObject(v)) return undefined;
  const payload = v['payload'];
  if (isObject(payload)) {
    const proto = str(payload['protocol']);
    const field = str(payload['field']);
    return proto && field ? `${proto} ${field}` : undefined;
  }
  const meta = v['meta'];
  if (isObject(meta)) {
    const key = str(meta['key']);
    return key ? `meta ${key}` : undefined;
  }
  return undefined;
}

/** Addresses and prefixes print as CIDRs (a lone address as /32 or /128), the way script.ts writes them. */
function formatValue(v: Json): string | undefined {
  if (typeof v === 'number') return hex(v);
  if (typeof v === 'string') {
    const ip = IPAddress.tryParse(v);
    return ip ? Cidr.of(ip, ip.bits).toString() : v;
  }
  if (isObject(v)) {
    const prefix = v['prefix'];
    if (isObject(prefix)) {
      const addr = IPAddress.tryParse(str(prefix['addr']) ?? '');
      const len = prefix['len'];
      // A length the address cannot have is an expression we do not know, not a reason to fail the listing.
      return addr && typeof len === 'number' && Number.isInteger(len) && len >= 0 && len <= addr.bits ? Cidr.of(addr, len).toString() : undefined;
    }
  }
  return undefined;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
