/**
 * @module config/daemon-options
 * argv + FLANNELD_* environment → one frozen, validated DaemonOptions.
 */
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors/index.ts';
import { IPAddress } from '../ip/index.ts';
import { FLAGS, envName, type FlagSpec } from './flags.ts';

export interface EtcdOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly keyFile?: string;
  readonly certFile?: string;
  readonly caFile?: string;
  readonly username?: string;
  readonly password?: string;
}

export interface KubeOptions {
  readonly apiUrl?: string;
  readonly kubeconfigFile?: string;
  readonly annotationPrefix: string;
  readonly netConfigPath: string;
  readonly setNodeNetworkUnavailable: boolean;
}

export interface InterfaceOptions {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly RegExp[];
  readonly ifaceCanReach?: IPAddress;
  readonly publicIP?: IPAddress;
  readonly publicIPv6?: IPAddress;
}

export interface DaemonOptions {
  readonly subnetManager: 'etcd' | 'kube';
  readonly etcd: EtcdOptions;
  readonly kube: KubeOptions;
  readonly interfaces: InterfaceOptions;
  readonly subnetFile: string;
  readonly subnetLeaseRenewMarginMinutes: number;
  readonly ipMasq: boolean;
  readonly ipMasqFullyRandom: boolean;
  readonly iptablesResyncSeconds: number;
  readonly iptablesForwardRules: boolean;
  readonly vxlanDisableTxChecksumOffload: boolean;
  readonly healthz?: { readonly ip: string; readonly port: number };
  readonly logFormat: 'json' | 'text';
  readonly verbosity: number;
  readonly showVersion: boolean;
  readonly showHelp: boolean;
}

type RawValues = Map<string, { value: string | string[]; from: string }>;

const USAGE_HINT = 'run "flanneld --help" for the list of flags';

function bad(message: string, hint = USAGE_HINT): never {
  throw new ConfigError('E_FLAG_INVALID', message, { hint });
}

/** Go's flag package accepts -name as well as --name; booleans take an optional =value. */
function normaliseArgv(argv: readonly string[]): string[] {
  const bools = new Set(FLAGS.filter((f) => f.kind === 'bool').map((f) => f.name));
  return argv.map((arg) => {
    let a = arg;
    if (/^-[^-]/.test(a) && a.length > 2) a = `-${a}`;
    if (a.startsWith('--') && !a.includes('=') && bools.has(a.slice(2))) a = `${a}=true`;
    return a;
  });
}

function collect(argv: readonly string[], env: NodeJS.ProcessEnv): RawValues {
  const options = Object.fromEntries(FLAGS.map((f) => [f.name, { type: 'string' as const, multiple: f.kind === 'list' }]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: normaliseArgv(argv), options, strict: true, allowPositionals: false });
  } catch (err) {
    bad(`invalid command line: ${(err as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
  const out: RawValues = new Map();
  for (const f of FLAGS) {
    const envValue = env[envName(f.name)];
    if (envValue !== undefined && envValue !== '') {
      out.set(f.name, { value: f.kind === 'list' ? envValue.split(',').map((s) => s.trim()).filter(Boolean) : envValue, from: envName(f.name) });
    }
    const v = parsed.values[f.name];
    if (typeof v === 'string') out.set(f.name, { value: v, from: `--${f.name}` });
    else if (Array.isArray(v)) out.set(f.name, { value: v.map(String), from: `--${f.name}` });
  }
  return out;
}

class Reader {
  constructor(private readonly raw: RawValues) {}

  private spec(name: string): FlagSpec {
    const s = FLAGS.find((f) => f.name === name);
    if (!s) throw new Error(`no flag ${name}`);
    return s;
  }

  string(name: string): string {
    const r = this.raw.get(name);
    if (r === undefined) return String(this.spec(name).default ?? '');
    return Array.isArray(r.value) ? r.value.join(',') : r.value;
  }

  list(name: string): string[] {
    const r = this.raw.get(name);
    if (r === undefined) return [...((this.spec(name).default as readonly string[] | undefined) ?? [])];
    return Array.isArray(r.value) ? r.value : [r.value];
  }

  bool(name: string): boolean {
    const r = this.raw.get(name);
    if (r === undefined) return Boolean(this.spec(name).default);
    const v = String(r.value).toLowerCase();
    if (['1', 't', 'true'].includes(v)) return true;
    if (['0', 'f', 'false'].includes(v)) return false;
    return bad(`${r.from} must be true or false, got "${r.value}"`);
  }

  /** undefined when neither the flag nor its variable is set. */
  optionalBool(name: string): boolean | undefined {
    return this.raw.has(name) ? this.bool(name) : undefined;
  }

  int(name: string, min: number, max: number): number {
    const r = this.raw.get(name);
    if (r === undefined) return Number(this.spec(name).default);
    const text = String(r.value);
    if (!/^-?\d+$/.test(text)) bad(`${r.from} must be a whole number, got "${text}"`);
    const n = Number(text);
    if (n < min || n > max) bad(`${r.from} ${n} is out of range: it must be between ${min} and ${max}`);
    return n;
  }

  ip(name: string, family: 4 | 6): IPAddress | undefined {
    const text = this.string(name);
    if (text === '') return undefined;
    const ip = IPAddress.tryParse(text);
    const from = this.raw.get(name)?.from ?? `--${name}`;
    if (!ip) bad(`${from} "${text}" is not an IP address`);
    if (ip.family !== family) bad(`${from} ${text} is an IPv${ip.family} address; it must be an IPv${family} address${family === 4 ? ' (use --public-ipv6 for IPv6)' : ' (use --public-ip for IPv4)'}`);
    return ip;
  }

  from(name: string): string {
    return this.raw.get(name)?.from ?? `--${name}`;
  }
}

function optional(v: string): string | undefined {
  return v === '' ? undefined : v;
}

/**
 * Whether this kernel miscomputes the outer UDP checksum of a VXLAN packet with TX checksum
 * offload on once netfilter NATs it (fixed in Linux 5.7 by commit ea64d8d6c675; Calico too turns
 * the offload off on older kernels only, since it costs most of the VXLAN throughput). A release
 * we cannot read: assume the bug.
 */
export function kernelLacksVxlanChecksumFix(release: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 5 || (major === 5 && minor < 7);
}

export function parseDaemonOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, kernelRelease = release()): DaemonOptions {
  const r = new Reader(collect(argv, env));

  const endpoints = r.string('etcd-endpoints').split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) bad(`${r.from('etcd-endpoints')} is empty: give at least one etcd URL such as http://127.0.0.1:2379`);
  for (const ep of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(ep);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
      bad(`${r.from('etcd-endpoints')} entry "${ep}" is not an http:// or https:// URL such as http://127.0.0.1:2379`);
    }
  }
  const prefix = r.string('etcd-prefix');
  if (!prefix.startsWith('/') || prefix.length < 2 || prefix.endsWith('/')) {
    bad(`${r.from('etcd-prefix')} "${prefix}" must start with "/" and not end with "/", e.g. /coreos.com/network`);
  }
  const keyFile = optional(r.string('etcd-keyfile'));
  const certFile = optional(r.string('etcd-certfile'));
  if (Boolean(keyFile) !== Boolean(certFile)) {
    bad('--etcd-keyfile and --etcd-certfile must be given together (client certificate and its key)');
  }
  const username = optional(r.string('etcd-username'));
  const password = optional(r.string('etcd-password'));
  if (password !== undefined && username === undefined) bad('--etcd-password is set but --etcd-username is not');

  const ifaceRegex = r.list('iface-regex').map((src) => {
    try {
      return new RegExp(src);
    } catch (err) {
      return bad(`${r.from('iface-regex')} "${src}" is not a valid regular expression: ${(err as Error).message}`);
    }
  });
  const canReachText = r.string('iface-can-reach');
  let ifaceCanReach: IPAddress | undefined;
  if (canReachText !== '') {
    ifaceCanReach = IPAddress.tryParse(canReachText);
    if (!ifaceCanReach) bad(`${r.from('iface-can-reach')} "${canReachText}" is not an IP address`);
  }
  const iface = r.list('iface');
  if ([iface.length > 0, ifaceRegex.length > 0, ifaceCanReach !== undefined].filter(Boolean).length > 1) {
    bad('--iface, --iface-regex and --iface-can-reach are alternatives: use only one of them');
  }

  const subnetFile = r.string('subnet-file');
  if (subnetFile === '' || subnetFile.endsWith('/')) bad(`${r.from('subnet-file')} "${subnetFile}" must name a file, e.g. /run/flannel/subnet.env`);

  const healthzPort = r.int('healthz-port', 0, 65535);
  const healthzIP = r.string('healthz-ip');
  if (!IPAddress.tryParse(healthzIP)) bad(`${r.from('healthz-ip')} "${healthzIP}" is not an IP address`);
  const logFormat = r.string('log-format');
  if (logFormat !== 'json' && logFormat !== 'text') bad(`${r.from('log-format')} must be json or text, got "${logFormat}"`);

  const options: DaemonOptions = {
    subnetManager: r.bool('kube-subnet-mgr') ? 'kube' : 'etcd',
    etcd: { endpoints, prefix, keyFile, certFile, caFile: optional(r.string('etcd-cafile')), username, password },
    kube: {
      apiUrl: optional(r.string('kube-api-url')),
      kubeconfigFile: optional(r.string('kubeconfig-file')),
      annotationPrefix: r.string('kube-annotation-prefix'),
      netConfigPath: r.string('net-config-path'),
      setNodeNetworkUnavailable: r.bool('set-node-network-unavailable'),
    },
    interfaces: { iface, ifaceRegex, ifaceCanReach, publicIP: r.ip('public-ip', 4), publicIPv6: r.ip('public-ipv6', 6) },
    subnetFile,
    subnetLeaseRenewMarginMinutes: r.int('subnet-lease-renew-margin', 1, 1439),
    ipMasq: r.bool('ip-masq'),
    ipMasqFullyRandom: !r.bool('ip-masq-fully-random-disable'),
    iptablesResyncSeconds: r.int('iptables-resync', 1, 86400),
    iptablesForwardRules: r.bool('iptables-forward-rules'),
    vxlanDisableTxChecksumOffload: r.optionalBool('vxlan-disable-tx-checksum-offload') ?? kernelLacksVxlanChecksumFix(kernelRelease),
    ...(healthzPort > 0 ? { healthz: { ip: healthzIP, port: healthzPort } } : {}),
    logFormat,
    verbosity: r.int('v', 0, 10),
    showVersion: r.bool('version'),
    showHelp: r.bool('help'),
  };
  return deepFreeze(options);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof IPAddress) && !(o instanceof RegExp)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
