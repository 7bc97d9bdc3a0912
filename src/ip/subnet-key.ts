/**
 * @module ip/subnet-key
 * Upstream's etcd key names for leases: "10.5.52.0-24", dual stack "10.5.52.0-24&fc00::-64".
 * The IPv4 part is always present; an IPv6-only lease is keyed "0.0.0.0-0&fc00::-64".
 */
import { IPParseError } from '../errors/index.ts';
import { Cidr } from './cidr.ts';

export interface SubnetPair {
  v4?: Cidr;
  v6?: Cidr;
}

const NO_IPV4 = '0.0.0.0-0';

function cidrToKeyPart(c: Cidr): string {
  return `${c.ip.toString()}-${c.prefix}`;
}

function keyPartToCidr(part: string, key: string): Cidr {
  const dash = part.lastIndexOf('-');
  if (dash < 0) throw new IPParseError('E_SUBNET_KEY', `"${key}" is not a subnet key (expected "<address>-<prefix>")`);
  return Cidr.parse(`${part.slice(0, dash)}/${part.slice(dash + 1)}`, { strict: true });
}

export function subnetKey(pair: SubnetPair): string {
  if (!pair.v4 && !pair.v6) throw new IPParseError('E_SUBNET_KEY', 'a subnet key needs an IPv4 or an IPv6 subnet');
  const v4 = pair.v4 ? cidrToKeyPart(pair.v4) : NO_IPV4;
  return pair.v6 ? `${v4}&${cidrToKeyPart(pair.v6)}` : v4;
}

export function parseSubnetKey(key: string): SubnetPair {
  const [v4Part, v6Part, ...rest] = key.split('&');
  if (v4Part === undefined || rest.length > 0 || v4Part === '' || v6Part === '') {
    throw new IPParseError('E_SUBNET_KEY', `"${key}" is not a subnet key`);
  }
  const out: SubnetPair = {};
  if (v4Part !== NO_IPV4) {
    const v4 = keyPartToCidr(v4Part, key);
    if (v4.family !== 4) throw new IPParseError('E_SUBNET_KEY', `"${key}" must start with an IPv4 subnet`);
    out.v4 = v4;
  }
  if (v6Part !== undefined) {
    const v6 = keyPartToCidr(v6Part, key);
    if (v6.family !== 6) throw new IPParseError('E_SUBNET_KEY', `"${key}" must end with an IPv6 subnet`);
    out.v6 = v6;
  }
  if (!out.v4 && !out.v6) throw new IPParseError('E_SUBNET_KEY', `"${key}" names no subnet`);
  return out;
}
