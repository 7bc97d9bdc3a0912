/**
 * @module lab/ui/snapshot-types
 * The lab as `lab ui` and `lab status --svg` show it: plain data, read from the lab's state and
 * its nodes' kernels (snapshot.ts), rendered by the page and by the SVG writer.
 */
import type { NodeReachability, Reachability } from '../connectivity.ts';
import type { LabDoctorReport } from '../lab-doctor.ts';

export interface SnapshotNode {
  readonly name: string;
  readonly ns: string;
  readonly underlayIP: string;
  /** FLANNEL_SUBNET of the node's subnet.env (the cni0 address with the subnet's prefix), or undefined before flanneld wrote it. */
  readonly subnet?: string;
  /** FLANNEL_MTU of the node's subnet.env. */
  readonly mtu?: number;
  /** How peers know the node: its VTEP MAC, WireGuard public key, TUN device, or "-". */
  readonly identity: { readonly title: string; readonly value: string };
  readonly flanneld: 'running' | 'stopped';
  /** Faults `lab break` injected on the node. */
  readonly faults: readonly string[];
}

export interface SnapshotPod {
  readonly name: string;
  readonly node: string;
  readonly ns: string;
  readonly ip: string;
}

/**
 * How node `from` reaches node `to`'s pod subnet, as `from`'s kernel has it:
 *  - tunnel: a route into the overlay device (flannel.1, flannel-wg, flannel0, flannel.ipip);
 *  - route: a host route via `to`'s underlay address (host-gw, extension, DirectRouting);
 *  - missing: no route of the fabric (only the default route, or nothing), or the tunnel has no peer for it.
 */
export interface SnapshotLink {
  readonly from: string;
  readonly to: string;
  readonly kind: 'tunnel' | 'route' | 'missing';
  /** The route that matched, as `ip route` prints it ('' when none). */
  readonly route: string;
  /** For a tunnel, the peer entry that carries it (WireGuard allowed-ips, the VXLAN FDB entry), when there is one. */
  readonly peer?: string;
}

export interface SnapshotMatrix {
  /** When it was probed (ISO time), or null when never. */
  readonly at: string | null;
  /** Every ordered pod pair ('all') or a sample of them ('sampled', in big labs). */
  readonly mode: 'all' | 'sampled';
  /** Ordered pod pairs there are. */
  readonly total: number;
  readonly cells: readonly Reachability[];
  /** Node to node (each node's cni0 address) over the fabric. */
  readonly nodes: readonly NodeReachability[];
}

export interface SnapshotDoctor {
  readonly at: string;
  readonly report: LabDoctorReport;
}

export interface LabSnapshot {
  readonly lab: {
    readonly name: string;
    readonly backend: string;
    readonly directRouting: boolean;
    readonly nftables: boolean;
    readonly network: string;
    readonly etcd: readonly string[];
    readonly underlay: string;
    readonly stateDir: string;
  };
  readonly nodes: readonly SnapshotNode[];
  readonly pods: readonly SnapshotPod[];
  readonly links: readonly SnapshotLink[];
  readonly matrix: SnapshotMatrix;
  /** The last doctor run of the page's server (the SVG writer has none). */
  readonly doctor: SnapshotDoctor | null;
  readonly takenAt: string;
}

/** One step of a packet from one pod to another, with the kernel object that decides it. */
export interface PathHop {
  /** Where the packet is: a pod, a node (by lab name), or "underlay". */
  readonly at: string;
  /** What the step is, in the seeds' words: "pod eth0", "veth", "cni0", "route", "flannel.1", "FDB", "underlay", ... */
  readonly step: string;
  /** One line saying what happens here. */
  readonly summary: string;
  /** The command that shows the object, as run on that node or pod. */
  readonly command: string;
  /** What it printed (the real object), trimmed. */
  readonly object: string;
  /** False when this hop is where the path breaks (no route, no FDB entry, a DROP rule, ...). */
  readonly ok: boolean;
}

export interface PodPath {
  readonly from: string;
  readonly to: string;
  readonly hops: readonly PathHop[];
  /** True when every hop is ok. */
  readonly complete: boolean;
}
