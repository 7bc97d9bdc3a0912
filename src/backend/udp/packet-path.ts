/**
 * @module backend/udp/packet-path
 * The per-packet logic of the udp backend, on buffers allocated once. The native pump (or a
 * test's fake) reads a batch of packets into them and calls onTun/onUdp with the count:
 *   onTun: for each packet read from flannel0, the peer whose subnet holds its destination goes
 *          into txAddr (the pump sends the batch to those addresses); no peer: dropped, counted,
 *          and answered with ICMP network unreachable, as upstream does, but from the unreachable
 *          address itself: upstream sends it from flannel0's own address, and a packet coming
 *          in through a device with a source address of the node is a martian the kernel drops,
 *          so upstream's never reaches the sender (measured: curl waits for its timeout).
 *   onUdp: for each datagram received, the inner packet is checked (IPv4, for this node's
 *          subnet) and its length left non-zero for the pump to write it to flannel0.
 * Both decrement the TTL as upstream's proxy does. Nothing here allocates, logs or throws per
 * packet: drops are counted in a Float64Array that the data plane reports periodically.
 */
import type { Cidr } from '../../ip/index.ts';
import { decrementTtl, destinationOf, ICMP_REPLY_MAX, isIpv4, netUnreachable } from './ipv4.ts';
import { int32Of, RouteTable } from './route-table.ts';

/** What the packet path drops, by index into `drops`. */
export const DROP = {
  /** From flannel0, for an address in no peer's subnet. */
  unknownSubnet: 0,
  /** TTL ran out (either direction). */
  ttlExpired: 1,
  /** Not an IPv4 packet that fits what was read (either direction). */
  malformed: 2,
  /** Received from the wire for an address outside this node's subnet. */
  notForThisNode: 3,
} as const;
export type DropReason = keyof typeof DROP;

export interface PacketPathOptions {
  readonly network: Cidr;
  /** This node's lease subnet: what it accepts from the wire. */
  readonly ownSubnet: Cidr;
  /** The device MTU: each slot holds one packet of it. */
  readonly mtu: number;
  /** Packets per batch (default 64). */
  readonly batch?: number;
  /** Writes one packet to flannel0 (the ICMP replies). */
  readonly reply: (packet: Uint8Array, length: number) => void;
}

export const DEFAULT_BATCH = 64;

export class PacketPath {
  readonly slot: number;
  readonly batch: number;
  readonly tunRx: Uint8Array;
  readonly tunRxLen: Int32Array;
  readonly txAddr: Uint32Array;
  readonly udpRx: Uint8Array;
  readonly udpRxLen: Int32Array;
  /** Indexed by DROP. */
  readonly drops = new Float64Array(4);
  /** ICMP network unreachable sent. */
  icmpSent = 0;
  /** The destination (int32) of the last packet dropped for an unknown subnet. */
  lastUnknown = 0;
  #routes: RouteTable;
  readonly #network: Cidr;
  readonly #ownBase: number;
  readonly #ownMask: number;
  readonly #reply: (packet: Uint8Array, length: number) => void;
  readonly #icmp = new Uint8Array(ICMP_REPLY_MAX);

  constructor(o: PacketPathOptions) {
    this.batch = o.batch ?? DEFAULT_BATCH;
    // A few bytes over the MTU, so a packet larger than it (the MTU changed by hand) shows as
    // not fitting instead of being cut silently; at least 2 KiB, 64-byte aligned.
    this.slot = Math.max(2048, Math.ceil((o.mtu + 64) / 64) * 64);
    this.tunRx = new Uint8Array(this.slot * this.batch);
    this.udpRx = new Uint8Array(this.slot * this.batch);
    this.tunRxLen = new Int32Array(this.batch);
    this.udpRxLen = new Int32Array(this.batch);
    this.txAddr = new Uint32Array(this.batch);
    this.#network = o.network;
    this.#routes = new RouteTable(o.network, []);
    this.#ownBase = int32Of(o.ownSubnet.ip);
    this.#ownMask = o.ownSubnet.prefix === 0 ? 0 : (~0 << (32 - o.ownSubnet.prefix)) | 0;
    this.#reply = o.reply;
  }

  get routes(): RouteTable {
    return this.#routes;
  }

  /** Replaces the route table (on lease changes, never per packet). */
  setRoutes(routes: RouteTable): void {
    this.#routes = routes;
  }

  get network(): Cidr {
    return this.#network;
  }

  readonly onTun = (count: number): void => {
    const b = this.tunRx;
    const slot = this.slot;
    const routes = this.#routes;
    for (let i = 0; i < count; i++) {
      const off = i * slot;
      const len = this.tunRxLen[i] as number;
      this.txAddr[i] = 0;
      if (!isIpv4(b, off, len)) {
        this.drops[DROP.malformed] = (this.drops[DROP.malformed] as number) + 1;
        continue;
      }
      const dst = destinationOf(b, off);
      const peer = routes.lookup(dst);
      if (peer === 0) {
        this.drops[DROP.unknownSubnet] = (this.drops[DROP.unknownSubnet] as number) + 1;
        this.lastUnknown = dst;
        const n = netUnreachable(this.#icmp, b, off, len, dst);
        if (n > 0) {
          this.#reply(this.#icmp, n);
          this.icmpSent++;
        }
        continue;
      }
      if (!decrementTtl(b, off)) {
        this.drops[DROP.ttlExpired] = (this.drops[DROP.ttlExpired] as number) + 1;
        continue;
      }
      this.txAddr[i] = peer;
    }
  };

  readonly onUdp = (count: number): void => {
    const b = this.udpRx;
    const slot = this.slot;
    for (let i = 0; i < count; i++) {
      const off = i * slot;
      const len = this.udpRxLen[i] as number;
      if (len === 0) continue; // larger than a slot: counted by the pump
      if (!isIpv4(b, off, len)) {
        this.drops[DROP.malformed] = (this.drops[DROP.malformed] as number) + 1;
        this.udpRxLen[i] = 0;
        continue;
      }
      if (((destinationOf(b, off) ^ this.#ownBase) & this.#ownMask) !== 0) {
        this.drops[DROP.notForThisNode] = (this.drops[DROP.notForThisNode] as number) + 1;
        this.udpRxLen[i] = 0;
        continue;
      }
      if (!decrementTtl(b, off)) {
        this.drops[DROP.ttlExpired] = (this.drops[DROP.ttlExpired] as number) + 1;
        this.udpRxLen[i] = 0;
      }
    }
  };
}
