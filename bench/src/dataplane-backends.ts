/**
 * The backends the throughput section measures: one entry per backend with what differs between
 * them (the Backend section of net-conf.json, the floor, the device its MTU and packet counts are
 * read from, the target, why it cannot run on this machine). throughput.ts and report.ts never test
 * a backend's name themselves.
 */
import { spawnSync } from 'node:child_process';
import type { LabNode } from '../../src/lab/cluster.ts';
import { Netns, nsExec } from '../../src/lab/netns.ts';
import { findAddon } from '../../src/tun/addon.ts';
import type { Backend, BenchContext } from './context.ts';
import { ipipPair, staticRoutes, vxlanPair, wireguardGoTunnel, type FloorBuilder } from './floors.ts';
import type { IperfResult } from './iperf.ts';

/** What the pod → pod result is held to. */
export type ThroughputTarget =
  /** pod → pod / hand-built pod → pod must reach this. */
  | { readonly kind: 'ratio'; readonly min: number }
  /**
   * A number measured elsewhere (not run here): pod → pod is compared with it for information; the
   * ratio to the floor is still reported.
   */
  | { readonly kind: 'reference'; readonly gbps: number; readonly what: string };

/** A measurement only one backend makes, run after the main rounds (e.g. vxlan's offload diagnostic). */
export interface Diagnostic {
  readonly txChecksumOffload?: string;
  readonly podToPodOffloadOn?: IperfResult;
}

export interface DiagnosticInput {
  readonly nodes: readonly [LabNode, LabNode];
  /** Runs pod → pod again (same paths, same settings). */
  podToPodAgain(label: string): Promise<IperfResult>;
  progress(msg: string): void;
}

export interface DataPlaneBackend {
  readonly type: Backend;
  /** Appended to the run's prefix for this backend's two-node lab (one letter, unique). */
  readonly labTag: string;
  /** The Backend section of the lab's network configuration. */
  readonly backendSection: Readonly<Record<string, unknown>>;
  /** The device flanneld carries the pods' traffic on: its MTU and packet counters are read. */
  readonly device: string;
  readonly floor: FloorBuilder;
  readonly target: ThroughputTarget;
  /** Said under the throughput table: numbers measured elsewhere that put the row in context. */
  readonly context?: string;
  /** Why this machine cannot run it (then the row says "not measured: <why>"); undefined: it can. */
  unavailable?(ctx: BenchContext): { reason: string; detail: string } | undefined;
  diagnose?(input: DiagnosticInput): Promise<Diagnostic>;
}

/** Upstream flannel's udp backend (its C proxy), pod to pod on this machine kind; not run by the benchmark. */
export const UPSTREAM_UDP_GBPS = 0.34;

function missingCommand(...names: string[]): string | undefined {
  return names.find((n) => spawnSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }).status !== 0);
}

/** Whether this kernel can make an ipip device, tried in a throwaway namespace of the run. */
function probeIpip(ctx: BenchContext): { reason: string; detail: string } | undefined {
  const ns = Netns.create(`${ctx.prefix}-ipprobe`);
  try {
    nsExec(ns.name, 'ip', ['link', 'add', 'probe0', 'type', 'ipip', 'local', '127.0.0.1']);
    return undefined;
  } catch (err) {
    const detail = (err as Error).message.replace(/^\[[^\]]*\]\s*/, '');
    return { reason: 'this kernel has no ipip module', detail };
  } finally {
    ns.delete();
  }
}

/** vxlan: what flanneld's default of disabling TX checksum offload (kernels < 5.7) costs. */
async function vxlanOffload({ nodes, podToPodAgain, progress }: DiagnosticInput): Promise<Diagnostic> {
  let txChecksumOffload: string | undefined;
  try {
    txChecksumOffload = /tx-checksum-ip-generic:\s*(\S+)/.exec(nsExec(nodes[0].ns, 'ethtool', ['-k', 'flannel.1']))?.[1];
  } catch {
    txChecksumOffload = 'unknown';
  }
  if (txChecksumOffload !== 'off') return txChecksumOffload === undefined ? {} : { txChecksumOffload };
  for (const n of nodes) nsExec(n.ns, 'ethtool', ['-K', 'flannel.1', 'tx-checksum-ip-generic', 'on']);
  progress('iperf3 pod → pod again with flannel.1 TX checksum offload on (diagnostic)');
  return { txChecksumOffload, podToPodOffloadOn: await podToPodAgain('diagnostic: flannel.1 TX checksum offload on') };
}

export const DATA_PLANE_BACKENDS: readonly DataPlaneBackend[] = [
  {
    type: 'vxlan',
    labTag: 't',
    backendSection: { Type: 'vxlan' },
    device: 'flannel.1',
    floor: vxlanPair,
    target: { kind: 'ratio', min: 0.95 },
    diagnose: vxlanOffload,
  },
  {
    type: 'host-gw',
    labTag: 'g',
    backendSection: { Type: 'host-gw' },
    device: 'eth0',
    floor: staticRoutes,
    target: { kind: 'ratio', min: 0.95 },
  },
  {
    type: 'wireguard',
    labTag: 'w',
    backendSection: { Type: 'wireguard' },
    device: 'flannel-wg',
    floor: wireguardGoTunnel,
    target: { kind: 'ratio', min: 0.9 },
    context:
      'This kernel has no WireGuard, so flanneld runs wireguard-go, as the floor does, each in sessions of its own (CFS autogroup would otherwise group the floor with iperf3): the ratio compares like with like. Measured for reference when the row was planned: a hand-built wireguard-go tunnel carried ~0.4 Gbit/s between two namespaces (bare veth ~13).',
    unavailable: () => {
      const missing = missingCommand('wireguard-go', 'wg');
      return missing ? { reason: `${missing} is not installed`, detail: `no ${missing} on the PATH (Debian: apt-get install wireguard-go wireguard-tools)` } : undefined;
    },
  },
  {
    type: 'udp',
    labTag: 'u',
    backendSection: { Type: 'udp' },
    device: 'flannel0',
    floor: vxlanPair,
    target: { kind: 'reference', gbps: UPSTREAM_UDP_GBPS, what: "upstream flannel's udp backend, pod to pod on this machine kind" },
    context: `Every packet goes through flanneld (TUN flannel0 ↔ a UDP socket), against the kernel's VXLAN with segmentation offload, so the ratio is small by nature. Upstream flannel's udp backend carried ~${UPSTREAM_UDP_GBPS} Gbit/s pod to pod on this machine kind (context, not measured in this run). Packets/s are flannel0's tx_packets on both nodes (TUN devices see wire-sized packets, one per segment).`,
    unavailable: () => (findAddon() ? undefined : { reason: "the udp backend's native addon is not built", detail: 'native/tun/build/Release/flannel_tun.node is missing: npm run build:native' }),
  },
  {
    type: 'extension',
    labTag: 'e',
    // host-gw done in shell, as the extension backend's README example.
    backendSection: {
      Type: 'extension',
      SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP dev eth0',
      SubnetRemoveCommand: 'ip route del $SUBNET via $PUBLIC_IP dev eth0',
    },
    device: 'eth0',
    floor: staticRoutes,
    target: { kind: 'ratio', min: 0.95 },
  },
  {
    type: 'ipip',
    labTag: 'i',
    backendSection: { Type: 'ipip' },
    device: 'flannel.ipip',
    floor: ipipPair,
    target: { kind: 'ratio', min: 0.95 },
    unavailable: probeIpip,
  },
];

export function dataPlaneBackend(type: Backend): DataPlaneBackend {
  const b = DATA_PLANE_BACKENDS.find((x) => x.type === type);
  if (!b) throw new Error(`no throughput entry for backend ${type}`);
  return b;
}
