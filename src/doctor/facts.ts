/**
 * @module doctor/facts
 * Everything `flannel-ts doctor` reads on one node, as plain values: gathering (gather/) reads
 * them without changing anything, the checks (checks/) are pure functions over them. A fact that
 * could not be read is `{ error }` with what went wrong, so a check can say "could not tell" rather
 * than guess.
 */
import type { NetworkConfig } from '../config/index.ts';
import type { DaemonOptions } from '../config/daemon-options.ts';
import type { Addr, FdbEntry, Link, Neighbor, Route } from '../kernel/index.ts';
import type { Lease } from '../lease/index.ts';
import type { SubnetEnv } from '../subnetenv/index.ts';

/** A value read, or why it could not be read. */
export type Read<T> = { readonly value: T } | { readonly error: string };

export interface ProcessFact {
  readonly pid: number;
  readonly argv: readonly string[];
}

export interface HttpProbe {
  /** HTTP status, or undefined when the request failed (error says why). */
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
}

export interface FlanneldFacts {
  /** flanneld processes in this network namespace (flannel-ts or upstream). */
  readonly processes: readonly ProcessFact[];
  /** Where its health endpoint was looked for; undefined when health checks are off (no --healthz-port). */
  readonly healthz?: { readonly url: string; readonly healthz: HttpProbe; readonly readyz: HttpProbe };
}

export interface KubeNodeFact {
  readonly name: string;
  /** spec.podCIDRs (or spec.podCIDR), as written. */
  readonly podCidrs: readonly string[];
}

export interface DatastoreFacts {
  readonly kind: 'etcd' | 'kube';
  /** Where it was looked for (etcd endpoints, API server URL), for messages. */
  readonly where: string;
  readonly config: Read<NetworkConfig>;
  /** Every lease (this node's too), as flanneld sees them. */
  readonly leases: Read<readonly Lease[]>;
  /** Kube mode: this node's object; absent in etcd mode. */
  readonly node?: Read<KubeNodeFact>;
}

export interface KernelFacts {
  readonly links: readonly Link[];
  readonly addrs: readonly Addr[];
  /** Main table, both families. */
  readonly routes: readonly Route[];
  /** Neighbour entries of flannel's devices (flannel.<VNI>, flannel-v6.<VNI>, ...), both families. */
  readonly neighbors: readonly Neighbor[];
  /** FDB entries of flannel's VXLAN devices. */
  readonly fdb: readonly FdbEntry[];
  /** `uname -r`. */
  readonly release: string;
}

export interface InterfaceChoice {
  /** The interface flanneld uses between nodes, as doctor resolves it with flanneld's --iface/--iface-regex/--iface-can-reach rules. */
  readonly name: string;
  readonly index: number;
  readonly address?: string;
  /** Why this one: "--iface=eth0", "the default route's interface", ... */
  readonly why: string;
}

export interface FirewallFacts {
  /** `iptables-save` output per variant that has one (legacy, nft), IPv4 and IPv6; an error when the tool is missing. */
  readonly iptables: { readonly legacy?: Read<string>; readonly nft?: Read<string>; readonly legacy6?: Read<string>; readonly nft6?: Read<string> };
  /** `nft list ruleset`. */
  readonly nftRuleset?: Read<string>;
}

export interface WireguardPeerFact {
  readonly publicKey: string;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  readonly presharedKey: boolean;
}

export interface WireguardDeviceFact {
  readonly name: string;
  readonly publicKey?: string;
  readonly listenPort?: number;
  readonly peers: readonly WireguardPeerFact[];
}

export interface CniFacts {
  readonly confDir: string;
  /** Files of the conf dir (*.conf, *.conflist, *.json), sorted by name as the runtime reads them, with their text. */
  readonly confFiles: Read<ReadonlyArray<{ readonly name: string; readonly text: string }>>;
  /** The plugin directories looked in, and the executables found in each. */
  readonly binDirs: ReadonlyArray<{ readonly dir: string; readonly plugins: Read<readonly string[]> }>;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly rttMs?: number;
  /** What was probed: "10.244.2.0 (flannel.1)", "192.168.50.12 (eth0)". */
  readonly target: string;
}

export interface PeerProbe {
  /** The peer's lease, as describeLease prints it. */
  readonly peer: string;
  readonly overlay?: ProbeResult;
  readonly underlay?: ProbeResult;
}

export interface NodeFacts {
  /** flanneld's options as doctor resolved them (its own flags, else the running flanneld's, else the defaults). */
  readonly options: DaemonOptions;
  /** Where those options came from, for the report ("pid 412's command line", "doctor's flags"). */
  readonly optionsFrom: string;
  readonly hostname: string;
  readonly subnetEnv: Read<SubnetEnv> & { readonly path: string };
  readonly flanneld: FlanneldFacts;
  readonly datastore: DatastoreFacts;
  readonly kernel: Read<KernelFacts>;
  readonly iface: Read<InterfaceChoice>;
  /** sysctl name (dotted, as `sysctl` prints it) → value; absent when the file does not exist. */
  readonly sysctls: Readonly<Record<string, string>>;
  /** Modules loaded or built in (from /proc/modules and /sys/module). */
  readonly modules: readonly string[];
  readonly firewall: FirewallFacts;
  readonly wireguard: Read<readonly WireguardDeviceFact[]>;
  /** `ethtool -k <dev>` "tx-checksum-ip-generic" per flannel VXLAN device ("on"/"off"). */
  readonly txChecksum: Readonly<Record<string, Read<string>>>;
  readonly cni: CniFacts;
  /** Only with --connectivity. */
  readonly probes?: readonly PeerProbe[];
}

/** The sysctls gathering reads. */
export const SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.ipv4.conf.all.rp_filter',
] as const;

/** The modules gathering looks for. */
export const MODULES = ['vxlan', 'br_netfilter', 'wireguard', 'ipip', 'tun', 'bridge', 'veth'] as const;
