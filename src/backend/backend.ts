/**
 * @module backend/backend
 * A backend turns leases into a data plane. The daemon creates one by type, registers the
 * network (which acquires the lease) and runs it until shutdown.
 */
import type { NetworkConfig } from '../config/index.ts';
import type { IPAddress } from '../ip/index.ts';
import type { Lease, LeaseAttrs } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import type { HostNetwork, NodeHints, SubnetManager } from '../subnet/index.ts';
import type { UndoRegistry } from '../async/index.ts';
import type { Kernel } from '../kernel/index.ts';

/** The host interface flannel sends inter-node traffic over, as chosen at start. */
export interface ExternalInterface {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  /** The interface's own addresses (used as VXLAN local address, route source). */
  readonly ifaceAddr?: IPAddress;
  readonly ifaceV6Addr?: IPAddress;
  /** What peers use to reach us (differs from ifaceAddr behind NAT or with --public-ip). */
  readonly publicIP?: IPAddress;
  readonly publicIPv6?: IPAddress;
}

/** What every backend gets from the daemon; a backend's own options go to its factory (daemon/compose.ts). */
export interface BackendDeps {
  readonly subnets: SubnetManager;
  readonly kernel: Kernel;
  readonly extIface: ExternalInterface;
  readonly log: Logger;
}

export interface Network {
  readonly lease: Lease;
  /** MTU for pod interfaces (written to subnet.env as FLANNEL_MTU). */
  readonly mtu: number;
  /** Programs peers until the signal aborts; rejects on a fatal error. */
  run(signal: AbortSignal): Promise<void>;
}

/** What the daemon hands registration besides the config: the node's own networks and the start-up's undo log. */
export interface RegisterOptions {
  /** Never lease a subnet overlapping one of these (passed on to acquireLease). */
  readonly hostNetworks?: readonly HostNetwork[];
  /** Records how to take back what registration created (devices, the lease) if start-up fails later. */
  readonly undo?: UndoRegistry;
}

export interface Backend {
  registerNetwork(config: NetworkConfig, hints: NodeHints, signal: AbortSignal, options?: RegisterOptions): Promise<Network>;
}

export interface BackendFactory {
  readonly type: string;
  /**
   * Validates what registerNetwork will read of the configuration (its Backend section, and the
   * families where a backend carries only one) without touching anything: throws ConfigError for
   * a bad value, returns the warnings. flanneld runs it before its first write; `flannel-ts
   * config check` runs it too.
   */
  checkConfig(config: NetworkConfig): { readonly warnings: readonly string[] };
  create(deps: BackendDeps): Backend;
}

/** The lease attributes every backend starts from: the public addresses of this node. */
export function baseLeaseAttrs(ext: ExternalInterface, config: NetworkConfig, backendType: string): LeaseAttrs {
  return {
    ...(config.enableIPv4 && ext.publicIP ? { publicIP: ext.publicIP } : {}),
    ...(config.enableIPv6 && ext.publicIPv6 ? { publicIPv6: ext.publicIPv6 } : {}),
    backendType,
  };
}
