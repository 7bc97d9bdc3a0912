/**
 * @module subnetenv
 * /run/flannel/subnet.env: the contract between flanneld and the CNI plugin. Byte-compatible
 * with upstream: IPv4 lines, then IPv6 lines, then MTU and IPMASQ; SUBNET lines carry the
 * first host address.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';

export interface SubnetEnv {
  network?: Cidr;
  /** The node's pod subnet (network address form). */
  subnet?: Cidr;
  ipv6Network?: Cidr;
  ipv6Subnet?: Cidr;
  mtu: number;
  ipMasq: boolean;
}

function withFirstHost(c: Cidr): string {
  return `${c.firstHost.toString()}/${c.prefix}`;
}

export function formatSubnetEnv(env: SubnetEnv): string {
  let out = '';
  if (env.network && env.subnet) out += `FLANNEL_NETWORK=${env.network}\nFLANNEL_SUBNET=${withFirstHost(env.subnet)}\n`;
  if (env.ipv6Network && env.ipv6Subnet) out += `FLANNEL_IPV6_NETWORK=${env.ipv6Network}\nFLANNEL_IPV6_SUBNET=${withFirstHost(env.ipv6Subnet)}\n`;
  out += `FLANNEL_MTU=${env.mtu}\nFLANNEL_IPMASQ=${env.ipMasq}\n`;
  return out;
}

/** Writes via a temp file in the same directory + fsync + rename, so readers never see half a file. */
export async function writeSubnetEnv(path: string, env: SubnetEnv): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(formatSubnetEnv(env));
    await fh.chmod(0o644);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

// No regular expressions here: the compiled CNI plugin parses this file on every call and
// otherwise uses none, and the engine costs it page faults on first use.

/** `"value"` without its quotes, unless a line break other than \n is inside (as /^"(.*)"$/ would). */
function unquoted(value: string): string {
  if (value.length < 2 || value.charCodeAt(0) !== 34 || value.charCodeAt(value.length - 1) !== 34) return value;
  for (let i = 1; i < value.length - 1; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 0x2028 || c === 0x2029) return value;
  }
  return value.slice(1, -1);
}

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const KNOWN = new Set(['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ']);

/**
 * Parses subnet.env text. `where` names the file in errors. Unknown variables are ignored
 * (operators add their own); a bad value of a known one is an error.
 */
export function parseSubnetEnv(text: string, where: string): SubnetEnv {
  const vars = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const rawLine = lines[i] as string;
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new ConfigError('E_SUBNET_ENV', `${where}:${i + 1}: "${line}" is not a NAME=value line`);
    const name = line.slice(0, eq).trim();
    if (KNOWN.has(name)) vars.set(name, unquoted(line.slice(eq + 1).trim()));
  }
  const cidr = (name: string, family: 4 | 6, hostForm: boolean): Cidr | undefined => {
    const v = vars.get(name);
    if (v === undefined) return undefined;
    const c = Cidr.tryParse(v);
    const ip = IPAddress.tryParse(v.split('/')[0] ?? '');
    if (!c || !ip || c.family !== family) throw new ConfigError('E_SUBNET_ENV', `${where}: ${name}="${v}" is not an IPv${family} CIDR`);
    if (!hostForm && !c.ip.equals(ip)) throw new ConfigError('E_SUBNET_ENV', `${where}: ${name}="${v}" has host bits set`);
    return c;
  };
  const network = cidr('FLANNEL_NETWORK', 4, false);
  const subnet = cidr('FLANNEL_SUBNET', 4, true);
  const ipv6Network = cidr('FLANNEL_IPV6_NETWORK', 6, false);
  const ipv6Subnet = cidr('FLANNEL_IPV6_SUBNET', 6, true);
  if (!subnet && !ipv6Subnet) throw new ConfigError('E_SUBNET_ENV', `${where}: neither FLANNEL_SUBNET nor FLANNEL_IPV6_SUBNET is set`);
  if (subnet && !network) throw new ConfigError('E_SUBNET_ENV', `${where}: FLANNEL_SUBNET is set but FLANNEL_NETWORK is missing`);
  if (ipv6Subnet && !ipv6Network) throw new ConfigError('E_SUBNET_ENV', `${where}: FLANNEL_IPV6_SUBNET is set but FLANNEL_IPV6_NETWORK is missing`);
  const mtuText = vars.get('FLANNEL_MTU');
  if (mtuText === undefined) throw new ConfigError('E_SUBNET_ENV', `${where}: FLANNEL_MTU is missing`);
  if (!isDigits(mtuText) || Number(mtuText) < 68 || Number(mtuText) > 65535) {
    throw new ConfigError('E_SUBNET_ENV', `${where}: FLANNEL_MTU="${mtuText}" is not an MTU (68-65535)`);
  }
  const masqText = vars.get('FLANNEL_IPMASQ') ?? 'false';
  if (masqText !== 'true' && masqText !== 'false') throw new ConfigError('E_SUBNET_ENV', `${where}: FLANNEL_IPMASQ="${masqText}" must be true or false`);
  return {
    ...(network ? { network } : {}),
    ...(subnet ? { subnet } : {}),
    ...(ipv6Network ? { ipv6Network } : {}),
    ...(ipv6Subnet ? { ipv6Subnet } : {}),
    mtu: Number(mtuText),
    ipMasq: masqText === 'true',
  };
}
