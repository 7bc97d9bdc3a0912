/**
 * @module config/network-config
 * The validated form of net-conf.json (or the etcd key `<prefix>/config`). Address data is
 * keyed by family: `v4` / `v6` pools instead of twin fields.
 */
import type { Cidr } from '../ip/index.ts';

/** The part of the cluster network leased out per node, for one IP family. */
export interface SubnetPool {
  readonly network: Cidr;
  readonly subnetLen: number;
  /** First lease-able subnet (inclusive), a block of `subnetLen`. */
  readonly subnetMin: Cidr;
  /** Last lease-able subnet (inclusive), a block of `subnetLen`. */
  readonly subnetMax: Cidr;
}

export interface BackendSection {
  /** Lower-cased backend type, e.g. "vxlan", "host-gw"; whether this build runs it is the backend registry's to say. */
  readonly type: string;
  /** The whole `Backend` object as given; each backend validates its own keys. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface NetworkConfig {
  /** Where the configuration came from, for messages ("etcd key /coreos.com/network/config"). */
  readonly source?: string;
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
  readonly enableNFTables: boolean;
  readonly v4?: SubnetPool;
  readonly v6?: SubnetPool;
  readonly backend: BackendSection;
  /** Things that are accepted but probably a mistake (unknown keys, odd casing). */
  readonly warnings: readonly string[];
}

export const DEFAULT_BACKEND_TYPE = 'vxlan';
