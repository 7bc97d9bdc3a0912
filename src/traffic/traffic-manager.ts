/**
 * @module traffic/traffic-manager
 * The contract for flannel's host traffic rules: forward-accept rules for the cluster network and
 * masquerading for pod traffic leaving it. Two implementations share it: iptables/ (chains
 * FLANNEL-FWD and FLANNEL-POSTRTG, applied with iptables-restore) and nftables/ (tables
 * flannel-ipv4 and flannel-ipv6, applied with nft). Data is keyed by IP family, never repeated
 * per family in parameter lists.
 */
import type { Cidr } from '../ip/index.ts';

export type TrafficKind = 'iptables' | 'nftables';

export type FamilyKey = 'v4' | 'v6';
export const FAMILY_KEYS: readonly FamilyKey[] = ['v4', 'v6'];

/** One family's cluster network (net-conf Network / IPv6Network) and this node's pod subnet. */
export interface FamilyNetworks {
  network: Cidr;
  podSubnet: Cidr;
}

/** The networks per family; an absent family gets no rules. */
export interface TrafficNetworks {
  v4?: FamilyNetworks;
  v6?: FamilyNetworks;
}

export interface MasqOptions {
  /** Add `--random-fully` / `fully-random` where supported (false with --ip-masq-fully-random-disable). */
  fullyRandom: boolean;
  /**
   * The networks of a former lease (from subnet.env). Our chains and tables are replaced whole on
   * every apply, so a former lease's rules vanish in any family still configured; a family that is
   * present here but absent from `nets` has its masquerade rules removed.
   */
  previous?: TrafficNetworks;
}

export interface TrafficManager {
  readonly kind: TrafficKind;
  /** Installs forward-accept rules for the cluster networks, idempotently. A family dropped since the last call is removed. */
  ensureForwardRules(nets: TrafficNetworks, signal: AbortSignal): Promise<string[]>;
  /** Installs masquerade rules, idempotently; families of `previous` that are not in `nets` are removed. */
  ensureMasqRules(nets: TrafficNetworks, opts: MasqOptions, signal: AbortSignal): Promise<string[]>;
  /** Checks the installed rules against what ensure* asked for and re-applies what is missing or altered. */
  resync(signal: AbortSignal): Promise<{ repaired: string[] }>;
  /** Removes everything flannel installs (chains, jumps, tables), in both families, whoever installed it. */
  cleanUp(signal: AbortSignal): Promise<void>;
}
