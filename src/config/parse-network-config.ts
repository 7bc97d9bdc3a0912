/**
 * @module config/parse-network-config
 * Parses and validates net-conf.json. Every rejection is one ConfigError naming the key, the
 * value and the rule. Key names match case-insensitively, as Go's encoding/json does upstream.
 */
import { z } from 'zod';
import { ConfigError, shortJson } from '../errors/index.ts';
import { Cidr, IPAddress, familyBits, type Family } from '../ip/index.ts';
import { DEFAULT_BACKEND_TYPE, type NetworkConfig, type SubnetPool } from './network-config.ts';

const CANONICAL_KEYS = [
  'Network',
  'IPv6Network',
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'SubnetLen',
  'SubnetMin',
  'SubnetMax',
  'IPv6SubnetLen',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
  'Backend',
] as const;
type Key = (typeof CANONICAL_KEYS)[number];

const optionalString = z.string().optional();
const optionalBool = z.boolean().optional();
const optionalInt = z.number().int().optional();

const RawSchema = z.object({
  Network: optionalString,
  IPv6Network: optionalString,
  EnableIPv4: optionalBool,
  EnableIPv6: optionalBool,
  EnableNFTables: optionalBool,
  SubnetLen: optionalInt,
  SubnetMin: optionalString,
  SubnetMax: optionalString,
  IPv6SubnetLen: optionalInt,
  IPv6SubnetMin: optionalString,
  IPv6SubnetMax: optionalString,
  Backend: z.record(z.string(), z.unknown()).optional(),
});
type Raw = z.infer<typeof RawSchema>;

export interface ParseOptions {
  /** Where the text came from, for messages: a file path or an etcd key. */
  source?: string;
}

const FIX = 'fix the network configuration (net-conf.json or the etcd key <prefix>/config) and restart flanneld';

function fail(source: string, message: string, hint = FIX): never {
  throw new ConfigError('E_NETCONF_INVALID', `${source}: ${message}`, { hint });
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isInteger(v)) return `the fraction ${v}`;
  return `${typeof v} ${shortJson(v)}`;
}

const expected: Record<string, string> = {
  string: 'a string such as "10.244.0.0/16"',
  boolean: 'true or false',
  number: 'a whole number',
  int: 'a whole number',
  record: 'an object such as {"Type": "vxlan"}',
  object: 'an object',
};

function normaliseKeys(obj: Record<string, unknown>, warnings: string[], source: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const canon = CANONICAL_KEYS.find((c) => c.toLowerCase() === k.toLowerCase());
    if (!canon) {
      warnings.push(`unknown key "${k}" is ignored (known keys: ${CANONICAL_KEYS.join(', ')})`);
      continue;
    }
    if (canon !== k) warnings.push(`key "${k}" is read as "${canon}"`);
    if (canon in out) fail(source, `key "${canon}" is given twice (as "${k}" too)`);
    out[canon] = v;
  }
  return out;
}

export function parseNetworkConfig(text: string, options: ParseOptions = {}): NetworkConfig {
  const source = options.source ?? 'network config';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(source, `is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(source, `must be a JSON object such as {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}, not ${describeType(json)}`);
  }
  const warnings: string[] = [];
  const normalised = normaliseKeys(json as Record<string, unknown>, warnings, source);
  const parsed = RawSchema.safeParse(normalised);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? '?') as Key;
    const want = issue?.code === 'invalid_type' ? (expected[issue.expected] ?? issue.expected) : 'a whole number';
    fail(source, `${key} must be ${want}, got ${describeType(normalised[key])}`);
  }
  return validate(parsed.data, source, warnings);
}

function validate(raw: Raw, source: string, warnings: string[]): NetworkConfig {
  const enableIPv4 = raw.EnableIPv4 ?? true;
  const enableIPv6 = raw.EnableIPv6 ?? false;
  if (!enableIPv4 && !enableIPv6) fail(source, 'EnableIPv4 and EnableIPv6 are both false: at least one IP family must be enabled');

  let v4: SubnetPool | undefined;
  if (enableIPv4) {
    if (raw.Network === undefined) fail(source, 'Network is missing: define the cluster network, e.g. "Network": "10.244.0.0/16" (or set "EnableIPv4": false for IPv6 only)');
    v4 = buildPool(4, source, {
      network: ['Network', raw.Network],
      len: ['SubnetLen', raw.SubnetLen],
      min: ['SubnetMin', raw.SubnetMin],
      max: ['SubnetMax', raw.SubnetMax],
    }, warnings);
  }
  let v6: SubnetPool | undefined;
  if (enableIPv6) {
    if (raw.IPv6Network === undefined) fail(source, 'EnableIPv6 is true but IPv6Network is missing: define it, e.g. "IPv6Network": "fd00:10:244::/56"');
    v6 = buildPool(6, source, {
      network: ['IPv6Network', raw.IPv6Network],
      len: ['IPv6SubnetLen', raw.IPv6SubnetLen],
      min: ['IPv6SubnetMin', raw.IPv6SubnetMin],
      max: ['IPv6SubnetMax', raw.IPv6SubnetMax],
    }, warnings);
  }
  if (v4 === undefined && raw.Network !== undefined) warnings.push('Network is ignored because EnableIPv4 is false');
  if (v6 === undefined && raw.IPv6Network !== undefined) warnings.push('IPv6Network is ignored because EnableIPv6 is false');

  const backendRaw = raw.Backend ?? {};
  const typeValue = Object.entries(backendRaw).find(([k]) => k.toLowerCase() === 'type')?.[1];
  if (typeValue !== undefined && typeof typeValue !== 'string') {
    fail(source, `Backend.Type must be a string such as "vxlan", got ${describeType(typeValue)}`);
  }
  const type = (typeValue ?? DEFAULT_BACKEND_TYPE).toLowerCase();
  return {
    source,
    enableIPv4,
    enableIPv6,
    enableNFTables: raw.EnableNFTables ?? false,
    ...(v4 ? { v4 } : {}),
    ...(v6 ? { v6 } : {}),
    backend: { type, raw: backendRaw },
    warnings,
  };
}

type Field<T> = [key: string, value: T | undefined];

/** Ranges a pod network can never use: the kernel routes them itself or they are not unicast. */
const SPECIAL_RANGES: ReadonlyArray<{ cidr: Cidr; what: string }> = [
  { cidr: Cidr.parse('0.0.0.0/8'), what: '0.0.0.0/8 ("this network", never a destination)' },
  { cidr: Cidr.parse('127.0.0.0/8'), what: '127.0.0.0/8 (loopback)' },
  { cidr: Cidr.parse('169.254.0.0/16'), what: '169.254.0.0/16 (link-local)' },
  { cidr: Cidr.parse('224.0.0.0/4'), what: '224.0.0.0/4 (multicast)' },
  { cidr: Cidr.parse('255.255.255.255/32'), what: '255.255.255.255 (broadcast)' },
  { cidr: Cidr.parse('::/128'), what: ':: (the unspecified address)' },
  { cidr: Cidr.parse('::1/128'), what: '::1 (loopback)' },
  { cidr: Cidr.parse('fe80::/10'), what: 'fe80::/10 (link-local)' },
  { cidr: Cidr.parse('ff00::/8'), what: 'ff00::/8 (multicast)' },
];

/** Where other networks commonly sit; a Network overlapping them is accepted with a warning. */
const COMMON_LANS: ReadonlyArray<{ cidr: Cidr; what: string }> = [
  { cidr: Cidr.parse('192.168.0.0/16'), what: 'where home and office LANs commonly sit' },
  { cidr: Cidr.parse('172.17.0.0/16'), what: "Docker's default bridge network (docker0)" },
];

function unusableReason(network: Cidr): string | undefined {
  if (network.prefix === 0) return `it is the whole IPv${network.family} address space, so pod traffic could not be told from any other traffic`;
  const special = SPECIAL_RANGES.find((r) => r.cidr.family === network.family && r.cidr.overlaps(network));
  return special ? `it overlaps ${special.what}` : undefined;
}

function buildPool(
  family: Family,
  source: string,
  f: { network: Field<string>; len: Field<number>; min: Field<string>; max: Field<string> },
  warnings: string[],
): SubnetPool {
  const [netKey, netText] = f.network;
  const ipv = `IPv${family}`;
  let network: Cidr;
  try {
    network = Cidr.parse(netText ?? '', { strict: true });
  } catch (err) {
    fail(source, `${netKey} "${netText}" is not a valid ${ipv} CIDR: ${(err as Error).message}`);
  }
  if (network.family !== family) fail(source, `${netKey} "${netText}" must be an ${ipv} network`);
  const unusable = unusableReason(network);
  if (unusable) fail(source, `${netKey} ${network.toString()} cannot be a pod network: ${unusable}`, `choose a private range that no host network uses, e.g. ${family === 4 ? '"Network": "10.244.0.0/16"' : '"IPv6Network": "fd00:10:244::/56"'}, and restart flanneld`);
  const commonLan = COMMON_LANS.find((lan) => lan.cidr.family === family && lan.cidr.overlaps(network));
  if (commonLan) {
    warnings.push(
      `${netKey} ${network.toString()} overlaps ${commonLan.cidr.toString()}, ${commonLan.what}: if a node's own network lies in it, pods cannot reach that network and flanneld will not lease the subnets it covers; a range such as 10.244.0.0/16 avoids this`,
    );
  }

  const bits = familyBits(family);
  const maxLen = bits - 2; // room for the gateway and the tunnel address
  const defaultCut = family === 4 ? 22 : 62;
  const defaultLen = family === 4 ? 24 : 64;
  const [lenKey, lenValue] = f.len;
  let subnetLen: number;
  if (lenValue !== undefined && lenValue !== 0) {
    if (lenValue < 1) fail(source, `${lenKey} ${lenValue} is out of range: it must be between 1 and ${maxLen} (0 or leaving it out: the default)`);
    if (lenValue > maxLen) fail(source, `${lenKey} ${lenValue} is out of range: it must be at most ${maxLen} (a node needs room for a gateway and the tunnel address)`);
    if (lenValue < network.prefix + 2) {
      fail(source, `${lenKey} ${lenValue} is too short for ${netKey} ${network.toString()}: it must be at least ${network.prefix + 2} so the network holds at least four subnets`);
    }
    subnetLen = lenValue;
  } else {
    if (network.prefix > maxLen - 2) fail(source, `${netKey} ${network.toString()} is too small: the smallest useful network is a /${maxLen - 2}`);
    subnetLen = network.prefix <= defaultCut ? defaultLen : network.prefix + 2;
  }

  const count = 1n << BigInt(subnetLen - network.prefix);
  const bound = ([key, text]: Field<string>, fallback: bigint): Cidr => {
    if (text === undefined || text === '') return network.subnetAt(subnetLen, fallback);
    const slash = text.indexOf('/');
    const ip = IPAddress.tryParse(slash >= 0 ? text.slice(0, slash) : text);
    if (!ip || ip.family !== family) fail(source, `${key} "${text}" is not an ${ipv} address`);
    if (slash >= 0) {
      // Upstream wants a plain address; a prefix is accepted only when it says the same as SubnetLen.
      if (text.slice(slash + 1) !== String(subnetLen)) fail(source, `${key} "${text}" has a prefix length that is not ${lenKey} ${subnetLen}: write the plain address, e.g. "${ip.toString()}"`);
      warnings.push(`${key} "${text}" is read as the address ${ip.toString()} (upstream flannel wants a plain address)`);
    }
    if (!network.contains(ip)) fail(source, `${key} ${text} is outside ${netKey} ${network.toString()}`);
    const block = Cidr.of(ip, subnetLen);
    if (!block.ip.equals(ip)) fail(source, `${key} ${text} is not on a /${subnetLen} boundary (${lenKey}); did you mean ${block.ip.toString()}?`);
    return block;
  };
  const subnetMin = bound(f.min, 1n);
  const subnetMax = bound(f.max, count - 1n);
  if (subnetMin.ip.compare(subnetMax.ip) > 0) {
    fail(source, `${f.min[0]} ${subnetMin.ip.toString()} is greater than ${f.max[0]} ${subnetMax.ip.toString()}: the pool of subnets is empty`);
  }
  return { network, subnetLen, subnetMin, subnetMax };
}
