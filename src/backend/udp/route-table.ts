/**
 * @module backend/udp/route-table
 * Which peer gets a packet, by its destination: the lease whose subnet holds it. Built from the
 * peers whenever a lease changes; looked up once per packet with no allocation: addresses are
 * 32-bit integers, and each distinct prefix length (one, in a normal cluster) has a Map from the
 * subnet's index inside the Network (a small integer) to the peer's address. Longest prefix wins.
 */
import type { Cidr, IPAddress } from '../../ip/index.ts';

export interface UdpRoute {
  readonly subnet: Cidr;
  readonly publicIP: IPAddress;
}

/** A 32-bit IPv4 address as a signed int32 (how the packet path reads it). */
export function int32Of(ip: IPAddress): number {
  return Number(ip.value) | 0;
}

export class RouteTable {
  readonly #base: number;
  readonly #netMask: number;
  /** Per prefix length, longest first: the shift that turns an offset into a subnet index, and the map. */
  readonly #shifts: Int32Array;
  readonly #maps: Array<Map<number, number>>;
  readonly size: number;
  /** The routes the table holds (for describing it; lookups never read this). */
  readonly routes: readonly UdpRoute[];

  /** Routes outside `network`, or with a zero address, are left out (the caller reports them). */
  constructor(network: Cidr, routes: Iterable<UdpRoute>) {
    this.#base = int32Of(network.ip);
    this.#netMask = network.prefix === 0 ? 0 : (~0 << (32 - network.prefix)) | 0;
    const byLength = new Map<number, Map<number, number>>();
    let size = 0;
    const kept: UdpRoute[] = [];
    for (const r of routes) {
      if (r.subnet.family !== 4 || r.publicIP.family !== 4 || !network.containsCidr(r.subnet) || r.publicIP.value === 0n) continue;
      let map = byLength.get(r.subnet.prefix);
      if (!map) byLength.set(r.subnet.prefix, (map = new Map()));
      const key = subnetIndex(int32Of(r.subnet.ip) ^ this.#base, 32 - r.subnet.prefix);
      if (!map.has(key)) size++;
      map.set(key, Number(r.publicIP.value));
      kept.push(r);
    }
    const lengths = [...byLength.keys()].sort((a, b) => b - a);
    this.#shifts = Int32Array.from(lengths, (len) => 32 - len);
    this.#maps = lengths.map((len) => byLength.get(len) as Map<number, number>);
    this.size = size;
    this.routes = kept;
  }

  /** The peer address (unsigned 32-bit) for destination `dst` (int32), 0 when no peer's subnet holds it. */
  lookup(dst: number): number {
    const offset = dst ^ this.#base;
    if ((offset & this.#netMask) !== 0) return 0;
    const maps = this.#maps;
    for (let k = 0; k < maps.length; k++) {
      const shift = this.#shifts[k] as number;
      const peer = (maps[k] as Map<number, number>).get(subnetIndex(offset, shift));
      if (peer !== undefined) return peer;
    }
    return 0;
  }
}

/** The index of the subnet holding `offset` (an address minus the Network's base), subnets being 2^shift addresses. */
function subnetIndex(offset: number, shift: number): number {
  return shift >= 32 ? 0 : (offset >>> shift) | 0;
}
