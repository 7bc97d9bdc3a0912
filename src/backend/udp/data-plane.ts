/**
 * @module backend/udp/data-plane
 * A running udp network: the pump moving packets through the packet path, the route table
 * following the leases, a periodic check that puts flannel0 back as it should be (creating it
 * again when it was deleted), and a periodic report of dropped packets (never a line per packet).
 */
import { describeError } from '../../errors/index.ts';
import { IPAddress, type Cidr } from '../../ip/index.ts';
import { leaseId, type Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { NativeCounter } from '../../tun/index.ts';
import type { PeerBatch } from '../../subnet/index.ts';
import { ensureTunDevice, type DeviceKernel } from './device.ts';
import type { Pump, TunDevice, UdpIo, UdpSocket } from './io.ts';
import { DROP, PacketPath, type DropReason } from './packet-path.ts';
import { RouteTable, type UdpRoute } from './route-table.ts';

export const TUN_PATTERN = 'flannel%d';
export const UDP_BACKEND_TYPE = 'udp';

export interface UdpPlaneOptions {
  readonly kernel: DeviceKernel;
  readonly io: UdpIo;
  readonly log: Logger;
  readonly network: Cidr;
  readonly lease: Lease & { readonly subnet: Cidr };
  readonly port: number;
  /** flannel0's MTU. */
  readonly mtu: number;
  /** The device and socket registration opened; the plane owns them from here on. */
  readonly tun: TunDevice;
  readonly socket: UdpSocket;
  /** Between checks of flannel0 (default 10 s). */
  readonly reconcileIntervalMs?: number;
  /** Between reports of dropped packets (default 60 s). */
  readonly statsIntervalMs?: number;
  readonly batch?: number;
}

export interface UdpStats {
  readonly drops: Readonly<Record<DropReason, number>>;
  readonly icmpSent: number;
  readonly native: Readonly<Record<NativeCounter, number>>;
}

/** Leases of these types are udp peers: upstream's udp backend writes no BackendType at all. */
const PEER_TYPES = new Set([UDP_BACKEND_TYPE, '']);

export class UdpDataPlane {
  readonly #o: UdpPlaneOptions;
  readonly #path: PacketPath;
  #tun: TunDevice;
  #pump: Pump | undefined;
  /** Counted by pumps that were stopped (a recreated device gets a new pump). */
  #pastNative: Record<string, number> = {};
  readonly #peers = new Map<string, Lease>();
  /** The problem last logged per lease id, so a lasting one is logged once. */
  readonly #problems = new Map<string, string>();
  #closed = false;

  constructor(o: UdpPlaneOptions) {
    this.#o = o;
    this.#tun = o.tun;
    this.#path = new PacketPath({
      network: o.network,
      ownSubnet: o.lease.subnet,
      mtu: o.mtu,
      ...(o.batch !== undefined ? { batch: o.batch } : {}),
      reply: (packet, length) => this.#write(packet, length),
    });
  }

  #writer: ((packet: Uint8Array, length: number) => void) | undefined;
  #write(packet: Uint8Array, length: number): void {
    (this.#writer ??= this.#o.io.writer(this.#tun))(packet, length);
  }

  get lease(): Lease & { readonly subnet: Cidr } {
    return this.#o.lease;
  }

  get deviceName(): string {
    return this.#tun.name;
  }

  /** The route table as lines, "10.244.2.0/24 via 192.0.2.11:8285", sorted. */
  routeLines(): string[] {
    return this.#path.routes.routes.map((r) => `${r.subnet.toString()} via ${r.publicIP.toString()}:${this.#o.port}`).sort();
  }

  stats(): UdpStats {
    const drops = {} as Record<DropReason, number>;
    for (const [name, i] of Object.entries(DROP) as Array<[DropReason, number]>) drops[name] = this.#path.drops[i] ?? 0;
    const now = this.#pump?.counters();
    const native = {} as Record<NativeCounter, number>;
    for (const [k, v] of Object.entries(now ?? {}) as Array<[NativeCounter, number]>) native[k] = v + (this.#pastNative[k] ?? 0);
    return { drops, icmpSent: this.#path.icmpSent, native };
  }

  /** Starts moving packets. */
  start(): void {
    if (this.#closed || this.#pump) return;
    this.#pump = this.#o.io.startPump(this.#tun, this.#o.socket, this.#o.port, this.#path);
  }

  /** Applies a batch of lease events: the route table is rebuilt once per batch. */
  apply(batch: PeerBatch): void {
    for (const ev of batch.events) {
      const id = leaseId(ev.lease);
      if (ev.type === 'added') this.#peers.set(id, ev.lease);
      else {
        this.#peers.delete(id);
        this.#problems.delete(id);
      }
    }
    const routes: UdpRoute[] = [];
    for (const [id, lease] of this.#peers) {
      const problem = this.#problemOf(lease);
      if (problem) {
        if (this.#problems.get(id) !== problem) this.#o.log.warn(`peer ${lease.subnet?.toString() ?? '(no IPv4 subnet)'} at ${lease.attrs.publicIP?.toString() ?? '(no public IP)'} ${problem}`);
        this.#problems.set(id, problem);
        continue;
      }
      this.#problems.delete(id);
      routes.push({ subnet: lease.subnet as Cidr, publicIP: lease.attrs.publicIP as IPAddress });
    }
    this.#path.setRoutes(new RouteTable(this.#o.network, routes));
    this.#o.log.debug(`udp route table: ${routes.length} peer subnet(s)`, { peers: routes.length });
  }

  #problemOf(lease: Lease): string | undefined {
    if (!PEER_TYPES.has(lease.attrs.backendType)) return `uses backend "${lease.attrs.backendType}", not udp: it gets no route (all nodes must use one backend type)`;
    if (!lease.subnet) return 'has no IPv4 subnet: the udp backend carries IPv4 only';
    if (!this.#o.network.containsCidr(lease.subnet)) return `has a subnet outside the Network ${this.#o.network.toString()}: it gets no route`;
    if (!lease.attrs.publicIP) return 'has no public IPv4 address: it gets no route';
    return undefined;
  }

  /** Puts flannel0 back as it should be; creates it again when it is gone. */
  async check(): Promise<void> {
    if (this.#closed) return;
    const { kernel, log, lease, network, mtu } = this.#o;
    const spec = { name: this.#tun.name, mtu, subnet: lease.subnet, network };
    const fixed = await ensureTunDevice(kernel, spec);
    if (this.#closed) return;
    if (fixed === undefined) {
      log.warn(`${spec.name} is gone (deleted by hand?): creating it again`);
      this.#replaceDevice();
      const again = await ensureTunDevice(kernel, { ...spec, name: this.#tun.name });
      if (again === undefined) throw new Error(`${this.#tun.name} vanished while it was being set up`);
      log.info(`created ${this.#tun.name} again`, { device: this.#tun.name });
      return;
    }
    if (fixed.length > 0) log.warn(`${spec.name} was changed by hand; restored its ${fixed.join(', ')}`, { device: spec.name, restored: fixed });
  }

  /** Closes the device's descriptor and opens a new device; on failure the next check tries again. */
  #replaceDevice(): void {
    this.#stopPump();
    this.#tun.close();
    this.#writer = undefined;
    this.#tun = this.#o.io.openTun(TUN_PATTERN);
    this.start();
  }

  #stopPump(): void {
    if (!this.#pump) return;
    for (const [k, v] of Object.entries(this.#pump.counters())) this.#pastNative[k] = (this.#pastNative[k] ?? 0) + v;
    this.#pump.stop();
    this.#pump = undefined;
  }

  /** Stops the pump and closes the socket and the device (which removes it). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPump();
    this.#tun.close();
    this.#o.socket.close();
  }

  /** Follows the leases until the signal aborts; closes everything when it ends. */
  async run(peers: AsyncIterable<PeerBatch>, signal: AbortSignal): Promise<void> {
    const { log } = this.#o;
    let checking = false;
    const check = setInterval(() => {
      if (checking) return;
      checking = true;
      this.check()
        .catch((err: unknown) => log.warn(`checking ${this.#tun.name} failed, will retry: ${describeError(err)}`))
        .finally(() => (checking = false));
    }, this.#o.reconcileIntervalMs ?? 10_000);
    let reported = this.stats();
    const report = setInterval(() => {
      const now = this.stats();
      const line = dropReport(reported, now, this.#path.lastUnknown);
      if (line) log.warn(`udp: in the last ${(this.#o.statsIntervalMs ?? 60_000) / 1000} s dropped ${line}`, { drops: now.drops, native: now.native });
      reported = now;
    }, this.#o.statsIntervalMs ?? 60_000);
    check.unref();
    report.unref();
    try {
      this.start();
      for await (const batch of peers) {
        this.apply(batch);
        if (signal.aborted) break;
      }
    } finally {
      clearInterval(check);
      clearInterval(report);
      this.close();
      const s = this.stats();
      log.info(`udp data path stopped: ${s.native.udpSentPackets} packets sent, ${s.native.tunWrittenPackets} received`, { drops: s.drops, native: s.native });
    }
  }
}

/**
 * The counters as packets per direction and fate. TTL-expired and malformed packets are counted by
 * the packet path for both directions together; they come almost only from flannel0 (IPv6
 * packets, routing loops), so they count as to_peer.
 */
export function packetCounts(s: UdpStats): { toPeer: { forwarded: number; dropped: number }; fromPeer: { forwarded: number; dropped: number } } {
  const n = (k: NativeCounter): number => s.native[k] ?? 0;
  return {
    toPeer: { forwarded: n('udpSentPackets'), dropped: s.drops.unknownSubnet + s.drops.ttlExpired + s.drops.malformed + n('udpSendDropped') },
    fromPeer: { forwarded: n('tunWrittenPackets'), dropped: s.drops.notForThisNode + n('udpRecvTruncated') + n('tunWriteDropped') },
  };
}

const DROP_TEXT: Record<DropReason, string> = {
  unknownSubnet: "for addresses in no peer's subnet",
  ttlExpired: 'whose TTL ran out',
  malformed: 'that were not IPv4',
  notForThisNode: "from the wire for addresses outside this node's subnet",
};

/** "3 packets for addresses in no peer's subnet (latest to 10.244.9.3), 1 ..."; undefined when nothing was dropped. */
export function dropReport(before: UdpStats, now: UdpStats, lastUnknown: number): string | undefined {
  const parts: string[] = [];
  for (const reason of Object.keys(DROP_TEXT) as DropReason[]) {
    const n = now.drops[reason] - before.drops[reason];
    if (n <= 0) continue;
    const latest = reason === 'unknownSubnet' ? ` (latest to ${IPAddress.fromBigInt(4, BigInt(lastUnknown >>> 0)).toString()})` : '';
    parts.push(`${n} packet(s) ${DROP_TEXT[reason]}${latest}`);
  }
  const kernel: Array<[NativeCounter, string]> = [
    ['udpSendDropped', 'the UDP socket refused to send'],
    ['tunWriteDropped', 'flannel0 refused'],
    ['udpRecvTruncated', 'received larger than the MTU'],
  ];
  for (const [counter, text] of kernel) {
    const n = now.native[counter] - before.native[counter];
    if (n > 0) parts.push(`${n} packet(s) ${text}`);
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

