/**
 * @module traffic/rule-engine
 * What the shared manager asks of an engine: bring one family's rules to a wanted state, and
 * remove everything. The manager owns the wanted state, serialisation and validation.
 */
import type { Cidr } from '../ip/index.ts';
import type { FamilyKey, TrafficKind } from './traffic-manager.ts';

export interface MasqSpec {
  network: Cidr;
  podSubnet: Cidr;
  /** Asked for; an engine drops it where unsupported. */
  fullyRandom: boolean;
}

/**
 * The wanted rules of one family, per kind: a spec (install), 'absent' (remove if present) or
 * undefined (not managed: iptables leaves it alone; nftables, whose table is wholly ours, omits it).
 */
export interface FamilyRules {
  masq?: MasqSpec | 'absent';
  /** The cluster network whose traffic is accepted in FORWARD. */
  forward?: Cidr | 'absent';
}

export type RuleKind = keyof FamilyRules;

export interface RuleEngine {
  readonly kind: TrafficKind;
  /**
   * Makes the installed rules of `family` match `want`. Returns what differed and was repaired
   * (empty when everything matched and nothing ran). With `focus`, an engine that keeps kinds apart
   * (iptables: one chain per table) looks only at that kind; nftables, whose table holds both,
   * always replaces the table as a whole.
   */
  sync(family: FamilyKey, want: FamilyRules, signal: AbortSignal, focus?: RuleKind): Promise<string[]>;
  /** Removes all flannel chains, jumps and tables of both families. */
  cleanUp(signal: AbortSignal): Promise<void>;
}

export function familyLabel(family: FamilyKey): string {
  return family === 'v4' ? 'ipv4' : 'ipv6';
}
