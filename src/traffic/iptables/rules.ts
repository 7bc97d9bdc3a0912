/**
 * @module traffic/iptables/rules
 * Upstream flannel's iptables rules, byte for byte as `iptables-save` prints them (the
 * `-A <chain>` prefix left off), so the same strings serve as restore input and as the expected
 * state when comparing with a save.
 */
import type { Cidr } from '../../ip/index.ts';

export type IptablesTable = 'nat' | 'filter';

/** Where one of our chains lives and which built-in chain jumps to it. */
export interface ChainRef {
  table: IptablesTable;
  chain: string;
  parent: string;
}

/** One of our chains with its complete wanted content. */
export interface ChainSpec extends ChainRef {
  /** The jump rule in `parent`, e.g. `-m comment --comment "flanneld masq" -j FLANNEL-POSTRTG`. */
  jump: string;
  /** Our chain's rules, in order. */
  rules: string[];
}

export const MASQ_CHAIN: ChainRef = { table: 'nat', chain: 'FLANNEL-POSTRTG', parent: 'POSTROUTING' };
export const FORWARD_CHAIN: ChainRef = { table: 'filter', chain: 'FLANNEL-FWD', parent: 'FORWARD' };
export const OUR_CHAINS: readonly ChainRef[] = [MASQ_CHAIN, FORWARD_CHAIN];

export const MASQ_COMMENT = 'flanneld masq';
export const FORWARD_COMMENT = 'flanneld forward';
/** kube-proxy's masquerade mark: traffic it marked is left for its own rules. */
export const KUBE_PROXY_MARK = '0x4000/0x4000';

const comment = (text: string): string => `-m comment --comment "${text}"`;

function multicast(network: Cidr): string {
  return network.family === 4 ? '224.0.0.0/4' : 'ff00::/8';
}

/** The nat chain FLANNEL-POSTRTG for one family. */
export function masqChain(spec: { network: Cidr; podSubnet: Cidr }, randomFully: boolean): ChainSpec {
  const net = spec.network.toString();
  const pod = spec.podSubnet.toString();
  const c = comment(MASQ_COMMENT);
  const masq = randomFully ? '-j MASQUERADE --random-fully' : '-j MASQUERADE';
  return {
    ...MASQ_CHAIN,
    jump: `${c} -j ${MASQ_CHAIN.chain}`,
    rules: [
      // kube-proxy marked it: no double NAT.
      `-m mark --mark ${KUBE_PROXY_MARK} ${c} -j RETURN`,
      // Pod <-> cluster traffic keeps its addresses.
      `-s ${pod} -d ${net} ${c} -j RETURN`,
      `-s ${net} -d ${pod} ${c} -j RETURN`,
      // Outside traffic to our pods arriving through this node is not masqueraded.
      `! -s ${net} -d ${pod} ${c} -j RETURN`,
      // Cluster -> outside, except multicast.
      `-s ${net} ! -d ${multicast(spec.network)} ${c} ${masq}`,
      // Host/outside -> cluster.
      `! -s ${net} -d ${net} ${c} ${masq}`,
    ],
  };
}

/** The filter chain FLANNEL-FWD for one family. */
export function forwardChain(network: Cidr): ChainSpec {
  const net = network.toString();
  const c = comment(FORWARD_COMMENT);
  return {
    ...FORWARD_CHAIN,
    jump: `${c} -j ${FORWARD_CHAIN.chain}`,
    rules: [`-s ${net} ${c} -j ACCEPT`, `-d ${net} ${c} -j ACCEPT`],
  };
}
