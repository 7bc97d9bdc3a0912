/**
 * @module traffic/nftables/script
 * Our nftables tables (`ip flannel-ipv4`, `ip6 flannel-ipv6`) and the `nft -f -` scripts that
 * replace or delete them. A table is wholly ours, so applying means: declare it (a no-op when it
 * exists), delete it and define it again, all in one nft transaction.
 */
import type { Cidr } from '../../ip/index.ts';
import type { FamilyRules } from '../rule-engine.ts';
import type { FamilyKey } from '../traffic-manager.ts';

export interface NftTable {
  /** nft address family: `ip` or `ip6` (also the payload protocol in rules). */
  family: 'ip' | 'ip6';
  name: string;
}

export const NFT_TABLES: Record<FamilyKey, NftTable> = {
  v4: { family: 'ip', name: 'flannel-ipv4' },
  v6: { family: 'ip6', name: 'flannel-ipv6' },
};

export interface NftChainSpec {
  name: 'postrtg' | 'forward';
  comment: string;
  type: 'nat' | 'filter';
  hook: 'postrouting' | 'forward';
  /** The priority keyword in scripts, and its number as `nft -j list` reports it. */
  priority: 'srcnat' | 'filter';
  prio: number;
  rules: string[];
}

/** kube-proxy's masquerade mark: traffic it marked is left for its own rules. */
export const KUBE_PROXY_MARK = '0x4000';

function multicast(network: Cidr): string {
  return network.family === 4 ? '224.0.0.0/4' : 'ff00::/8';
}

/** Chain `postrtg`: the same six decisions as iptables' FLANNEL-POSTRTG. */
export function masqChain(table: NftTable, spec: { network: Cidr; podSubnet: Cidr }, fullyRandom: boolean): NftChainSpec {
  const ip = table.family;
  const net = spec.network.toString();
  const pod = spec.podSubnet.toString();
  const masq = fullyRandom ? 'masquerade fully-random' : 'masquerade';
  return {
    name: 'postrtg',
    comment: 'chain to manage traffic masquerading by flannel',
    type: 'nat',
    hook: 'postrouting',
    priority: 'srcnat',
    prio: 100,
    rules: [
      `meta mark & ${KUBE_PROXY_MARK} == ${KUBE_PROXY_MARK} return`,
      `${ip} saddr ${pod} ${ip} daddr ${net} return`,
      `${ip} saddr ${net} ${ip} daddr ${pod} return`,
      `${ip} saddr != ${net} ${ip} daddr ${pod} return`,
      `${ip} saddr ${net} ${ip} daddr != ${multicast(spec.network)} ${masq}`,
      `${ip} saddr != ${net} ${ip} daddr ${net} ${masq}`,
    ],
  };
}

/** Chain `forward`: accept traffic from and to the cluster network. */
export function forwardChain(table: NftTable, network: Cidr): NftChainSpec {
  const ip = table.family;
  const net = network.toString();
  return {
    name: 'forward',
    comment: 'chain to accept flannel traffic',
    type: 'filter',
    hook: 'forward',
    priority: 'filter',
    prio: 0,
    rules: [`${ip} saddr ${net} accept`, `${ip} daddr ${net} accept`],
  };
}

/** The chains a family's table should hold (kinds not asked for are left out). */
export function wantedChains(table: NftTable, want: FamilyRules, fullyRandom: boolean): NftChainSpec[] {
  const chains: NftChainSpec[] = [];
  if (want.masq !== undefined && want.masq !== 'absent') chains.push(masqChain(table, want.masq, want.masq.fullyRandom && fullyRandom));
  if (want.forward !== undefined && want.forward !== 'absent') chains.push(forwardChain(table, want.forward));
  return chains;
}

/** `nft -f -` input that deletes `table` whether or not it exists. */
export function deleteScript(table: NftTable): string {
  return `table ${table.family} ${table.name} {}\ndelete table ${table.family} ${table.name}\n`;
}

/** `nft -f -` input that replaces `table` with exactly `chains` (or deletes it when there are none). */
export function replaceScript(table: NftTable, chains: readonly NftChainSpec[]): string {
  if (chains.length === 0) return deleteScript(table);
  const lines = [`table ${table.family} ${table.name} {`, `\tcomment "rules for ${table.name}"`];
  for (const c of chains) {
    lines.push(`\tchain ${c.name} {`, `\t\tcomment "${c.comment}"`, `\t\ttype ${c.type} hook ${c.hook} priority ${c.priority}; policy accept;`);
    for (const r of c.rules) lines.push(`\t\t${r}`);
    lines.push('\t}');
  }
  lines.push('}');
  return deleteScript(table) + lines.join('\n') + '\n';
}

/** A throwaway nat chain, only ever run with `nft -c`, that tells whether `masquerade fully-random` works. */
export const FULLY_RANDOM_PROBE =
  'table ip flannel-probe {\n\tchain probe {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr != 127.0.0.1 masquerade fully-random\n\t}\n}\n';
