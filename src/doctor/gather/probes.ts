/**
 * @module doctor/gather/probes
 * `doctor --connectivity`: for every peer lease, ping its tunnel address through the overlay and
 * its PublicIP on the underlay, a few peers at a time. Overlay silent while the underlay answers
 * means the backend's port is blocked on the path; both silent, the peer is down.
 */
import type { CommandRunner } from '../../exec/index.ts';
import type { IPAddress } from '../../ip/index.ts';
import { describeLease, type Lease } from '../../lease/index.ts';
import type { KernelFacts, PeerProbe, ProbeResult } from '../facts.ts';

export const PROBE_CONCURRENCY = 8;

/**
 * The address a peer answers on through the overlay: the subnet's .0 (on its flannel device) for
 * the tunnelling backends, its cni0 gateway (.1) for host-gw, none for backends without a data
 * plane of their own (alloc, extension).
 */
export function tunnelAddress(lease: Lease, backendType: string): IPAddress | undefined {
  const subnet = lease.subnet ?? lease.ipv6Subnet;
  if (!subnet) return undefined;
  if (['vxlan', 'wireguard', 'ipip', 'udp'].includes(backendType)) return subnet.ip;
  if (backendType === 'host-gw') return subnet.firstHost;
  return undefined;
}

/** The average round trip from ping's summary ("rtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms"). */
export function parsePingRtt(text: string): number | undefined {
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The device the main table sends `ip` out of (longest prefix wins), for labels: "10.244.2.0 (flannel.1)". */
export function deviceFor(ip: IPAddress, kernel: KernelFacts | undefined): string | undefined {
  if (!kernel) return undefined;
  const route = kernel.routes
    .filter((r) => r.dst.family === ip.family && r.dst.contains(ip) && r.linkIndex !== undefined && r.type === 'unicast')
    .sort((a, b) => b.dst.prefix - a.dst.prefix || (a.metric ?? 0) - (b.metric ?? 0))[0];
  return kernel.links.find((l) => l.index === route?.linkIndex)?.name;
}

/**
 * How long a probe waits for its three answers, in seconds. Through the overlay, 7: the first
 * packets to a WireGuard peer wait for a handshake, and when both ends start one at the same
 * moment (doctor runs on every node at once, after the sessions expired on an idle cluster) each
 * drops its own and both retry after 5 s. ping ends as soon as three answers are in, so a healthy
 * peer is not waited for.
 */
export const OVERLAY_DEADLINE_S = 7;
const UNDERLAY_DEADLINE_S = 3;

/** ping's arguments: three answers at 0.2 s intervals within `deadlineS` (fewer is a failure). */
export function pingArgs(ip: IPAddress, deadlineS: number): string[] {
  return ['-n', '-c', '3', '-i', '0.2', '-w', String(deadlineS), ip.toString()];
}

async function ping(runner: CommandRunner, ip: IPAddress, kernel: KernelFacts | undefined, deadlineS: number): Promise<ProbeResult> {
  const dev = deviceFor(ip, kernel);
  const target = dev ? `${ip} (${dev})` : ip.toString();
  const r = await runner.run('ping', pingArgs(ip, deadlineS), { timeoutMs: 15_000 }).catch(() => undefined);
  if (!r) return { ok: false, target };
  const rtt = parsePingRtt(r.stdout);
  return { ok: r.code === 0, ...(r.code === 0 && rtt !== undefined ? { rttMs: rtt } : {}), target };
}

async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface ProbeInput {
  readonly runner: CommandRunner;
  /** Every peer's lease (this node's excluded). */
  readonly peers: readonly Lease[];
  readonly backendType: string;
  readonly kernel?: KernelFacts;
  readonly concurrency?: number;
}

export async function probePeers(input: ProbeInput): Promise<PeerProbe[]> {
  return await inBatches(input.peers, input.concurrency ?? PROBE_CONCURRENCY, async (lease) => {
    const tunnel = tunnelAddress(lease, input.backendType);
    const underlayIP = lease.attrs.publicIP ?? lease.attrs.publicIPv6;
    const [overlay, underlay] = await Promise.all([
      tunnel ? ping(input.runner, tunnel, input.kernel, OVERLAY_DEADLINE_S) : undefined,
      underlayIP ? ping(input.runner, underlayIP, input.kernel, UNDERLAY_DEADLINE_S) : undefined,
    ]);
    return { peer: describeLease(lease), ...(overlay ? { overlay } : {}), ...(underlay ? { underlay } : {}) };
  });
}
