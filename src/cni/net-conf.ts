/**
 * @module cni/net-conf
 * The flannel plugin's network configuration (stdin), decoded in the order libcni's skel does it:
 * JSON (code 6), network name (code 7), cniVersion (code 1), then our own keys (code 7).
 * Unknown keys are kept: the runtime adds `args`, `capabilities`, `prevResult` and others.
 */
import { CniCode, CniError } from './cni-error.ts';
import { isAlnumOnly } from './env.ts';
import { clip, JSON_DEPTH_LIMIT } from './limits.ts';
import { IMPLICIT_VERSION, requireSupported } from './versions.ts';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

export type JsonObject = Record<string, unknown>;

export interface FlannelNetConf {
  /** The configuration's version, `0.1.0` when absent (as libcni reads it). */
  cniVersion: string;
  /** Whether the configuration carried a cniVersion (only then is it copied to the delegate). */
  hasCniVersion: boolean;
  name: string;
  subnetFile: string;
  dataDir: string;
  delegate: JsonObject | undefined;
  ipam: JsonObject | undefined;
  runtimeConfig: JsonObject | undefined;
  validAttachments: Attachment[] | undefined;
}

export interface Attachment {
  containerID: string;
  ifname?: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DECODE = 'error unmarshall network config';

/** Whether `text` nests arrays and objects deeper than `limit` (strings skipped; for any text, JSON or not). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // Cannot nest deeper than it has characters: a configuration of normal size skips the scan.
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Parses stdin as JSON: code 6 when it is empty, not JSON, nested too deeply or not a JSON object.
 * The messages do not depend on the JavaScript engine (bun and node word parse errors
 * differently): the engine's own words go to `details`.
 */
export function decodeJson(stdin: string): JsonObject {
  // A configuration starts with `{`: the regular expression only runs for what does not.
  if (stdin.charCodeAt(0) !== 0x7b && /^[ \t\n\r]*$/.test(stdin)) {
    throw new CniError(CniCode.DecodingFailure, `${DECODE}: stdin is empty`, 'the runtime passes the network configuration (a JSON object) on stdin');
  }
  if (nestsDeeperThan(stdin, JSON_DEPTH_LIMIT)) {
    throw new CniError(CniCode.DecodingFailure, `${DECODE}: nested more than ${JSON_DEPTH_LIMIT} levels deep`, 'a flannel network configuration nests a few levels (delegate, ipam, runtimeConfig)');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `${DECODE}: stdin is not valid JSON`, clip(err instanceof Error ? err.message : String(err), 512));
  }
  if (!isObject(raw)) throw new CniError(CniCode.DecodingFailure, `${DECODE}: the network configuration must be a JSON object`);
  return raw;
}

/** The cniVersion a raw configuration declares (code 6 when it is not a string). */
export function configVersion(raw: JsonObject): string {
  const v = raw.cniVersion;
  if (v === undefined || v === '') return IMPLICIT_VERSION;
  if (typeof v !== 'string') throw new CniError(CniCode.DecodingFailure, 'error unmarshall network config: cniVersion must be a string');
  return v;
}

/** The network name check every command but VERSION does (code 7). */
export function validateNetworkName(raw: JsonObject): string {
  const name = raw.name;
  if (name === undefined || name === '' || name === null) throw new CniError(CniCode.InvalidNetworkConfig, 'missing network name');
  if (typeof name !== 'string' || !(isAlnumOnly(name) || NAME.test(name))) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'invalid characters found in network name', clip(typeof name === 'string' ? name : JSON.stringify(name)));
  }
  return name;
}

/*
 * Checked by hand, not with zod: this runs once per pod in a freshly started process, and in the
 * compiled plugin zod/mini cost ~2.9 ms per ADD (import + first parse; the full zod API ~5 ms)
 * against ~9 ms for bridge itself. Eight keys do not need a schema library.
 */
type Check = (v: unknown) => string | undefined;

const optional = (check: Check): Check => (v) => (v === undefined ? undefined : check(v));
const nullish = (check: Check): Check => (v) => (v === undefined || v === null ? undefined : check(v));
const aString: Check = (v) => (typeof v === 'string' ? undefined : 'must be a string');
const nonEmpty: Check = (v) => aString(v) ?? (v === '' ? 'must not be empty' : undefined);
const anObject: Check = (v) => (isObject(v) ? undefined : 'must be an object');

const ATTACHMENTS = (v: unknown): string | undefined => {
  if (!Array.isArray(v)) return 'must be a list';
  for (const [i, a] of v.entries()) {
    if (!isObject(a)) return `.${i} must be an object`;
    if (typeof a.containerID !== 'string') return `.${i}.containerID must be a string`;
    if (a.ifname !== undefined && typeof a.ifname !== 'string') return `.${i}.ifname must be a string`;
  }
  return undefined;
};

const KEYS: ReadonlyArray<[string, Check]> = [
  ['cniVersion', optional(aString)],
  ['type', optional(aString)],
  ['subnetFile', optional(nonEmpty)],
  ['dataDir', optional(nonEmpty)],
  ['delegate', nullish(anObject)],
  ['ipam', nullish(anObject)],
  ['runtimeConfig', nullish(anObject)],
  ['cni.dev/valid-attachments', nullish(ATTACHMENTS)],
  // libcni sends both spellings (the spec named the key differently in one revision).
  ['cni.dev/attachments', nullish(ATTACHMENTS)],
];

/** Problems with our keys, each naming the key ("delegate must be an object"). */
function problems(raw: JsonObject): string[] {
  const out: string[] = [];
  for (const [key, check] of KEYS) {
    const p = check(raw[key]);
    if (p !== undefined) out.push(p.startsWith('.') ? `${key}${p}` : `${key} ${p}`);
  }
  return out;
}

/** Full decode of the flannel configuration, defaults applied. */
export function parseNetConf(stdin: string): FlannelNetConf {
  const raw = decodeJson(stdin);
  const name = validateNetworkName(raw);
  const version = configVersion(raw);
  requireSupported(version);
  const issues = problems(raw);
  if (issues.length > 0) throw new CniError(CniCode.InvalidNetworkConfig, `invalid network config "${clip(name, 64)}": ${issues[0]}`, issues.join('; '));
  const str = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const obj = (k: string): JsonObject | undefined => (isObject(raw[k]) ? (raw[k] as JsonObject) : undefined);
  const attachments = (k: string): Attachment[] | undefined => (Array.isArray(raw[k]) ? (raw[k] as Attachment[]) : undefined);
  return {
    cniVersion: version,
    hasCniVersion: str('cniVersion') !== undefined && str('cniVersion') !== '',
    name,
    subnetFile: str('subnetFile') ?? DEFAULT_SUBNET_FILE,
    dataDir: str('dataDir') ?? DEFAULT_DATA_DIR,
    delegate: obj('delegate'),
    ipam: obj('ipam'),
    runtimeConfig: obj('runtimeConfig'),
    validAttachments: attachments('cni.dev/valid-attachments') ?? attachments('cni.dev/attachments'),
  };
}
