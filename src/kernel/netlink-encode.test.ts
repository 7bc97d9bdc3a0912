import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { AttrStream, ifla, rt } from 'netlink';
import { Cidr, IPAddress } from '../ip/index.ts';
import type { FdbSpec, NeighborSpec, RouteSpec } from './types.ts';
import { macToBytes } from './mac.ts';
import { encodeFdbAppend, encodeNeighborReplace, encodeRouteReplace } from './netlink-encode.ts';
import { encodeLinkinfo } from './netlink-codec.ts';

// The reference: the same requests built the way the netlink package encodes them.
function packageBytes(format: (out: AttrStream) => void): Uint8Array {
  const out = new AttrStream();
  format(out);
  return Buffer.concat(out.bufs);
}

function packageRoute(spec: RouteSpec): Uint8Array {
  const table = spec.table ?? 254;
  const data: rt.Route = {
    family: spec.dst.family === 4 ? 2 : 10,
    dstLen: spec.dst.prefix,
    table: table < 256 ? table : 252,
    protocol: rt.RouteProtocol.BOOT,
    scope: spec.gateway ? rt.RouteScope.UNIVERSE : rt.RouteScope.LINK,
    type: rt.RouteType.UNICAST,
    flags: spec.onlink ? { __unknown: 4 } : {},
  };
  const attrs: rt.RouteAttrs = { dst: spec.dst.ip.toBytes(), oif: spec.linkIndex, table };
  if (spec.gateway) attrs.gateway = spec.gateway.toBytes();
  if (spec.src) attrs.prefsrc = spec.src.toBytes();
  if (spec.metric !== undefined) attrs.priority = spec.metric;
  return packageBytes((out) => rt.formatRouteMessage({ kind: 'route', data, attrs }, out));
}

function packageNeighbor(n: NeighborSpec): Uint8Array {
  const state: rt.NeighborState = n.permanent === false ? { reachable: true } : { permanent: true };
  const data: rt.Neighbor = { family: n.ip.family === 4 ? 2 : 10, ifindex: n.linkIndex, state };
  return packageBytes((out) => rt.formatNeighborMessage({ kind: 'neighbor', data, attrs: { dst: n.ip.toBytes(), lladdr: macToBytes(n.mac) } }, out));
}

function packageFdb(e: FdbSpec): Uint8Array {
  const data: rt.Neighbor = { family: 7, ifindex: e.linkIndex, state: { permanent: true }, flags: { self: true } };
  return packageBytes((out) => rt.formatNeighborMessage({ kind: 'neighbor', data, attrs: { lladdr: macToBytes(e.mac), dst: e.dst.toBytes() } }, out));
}

const ip = (s: string): IPAddress => IPAddress.parse(s);

describe('netlink-encode: the same bytes as the netlink package', () => {
  it('route replace, every optional field and both families', () => {
    const specs: RouteSpec[] = [
      { dst: Cidr.parse('10.244.3.0/24'), gateway: ip('10.244.3.0'), linkIndex: 7, onlink: true },
      { dst: Cidr.parse('10.244.3.0/24'), gateway: ip('192.168.50.12'), linkIndex: 2 },
      { dst: Cidr.parse('10.244.0.0/16'), linkIndex: 9 },
      { dst: Cidr.parse('10.1.0.0/24'), gateway: ip('172.20.0.1'), linkIndex: 3, table: 300, src: ip('10.1.0.1'), metric: 100 },
      { dst: Cidr.parse('fd00:10:244:3::/64'), gateway: ip('fd00:10:244:3::'), linkIndex: 8, onlink: true, metric: 1024 },
      { dst: Cidr.parse('fd00::/56'), linkIndex: 4, table: 10, src: ip('fd00::1') },
    ];
    for (const s of specs) assert.deepEqual(encodeRouteReplace(s), new Uint8Array(packageRoute(s)), JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  });

  it('neighbour replace (permanent and reachable) and FDB append, IPv4 and IPv6', () => {
    const neighbors: NeighborSpec[] = [
      { linkIndex: 7, ip: ip('10.244.3.0'), mac: '0e:00:00:00:00:01' },
      { linkIndex: 7, ip: ip('10.244.3.0'), mac: '0e:00:00:00:00:01', permanent: false },
      { linkIndex: 8, ip: ip('fd00:10:244:3::'), mac: 'aa:bb:cc:dd:ee:ff' },
    ];
    for (const n of neighbors) assert.deepEqual(encodeNeighborReplace(n), new Uint8Array(packageNeighbor(n)));
    const fdb: FdbSpec[] = [
      { linkIndex: 7, mac: '0e:00:00:00:00:01', dst: ip('192.168.50.12') },
      { linkIndex: 8, mac: 'aa:bb:cc:dd:ee:ff', dst: ip('fd00::12') },
    ];
    for (const e of fdb) assert.deepEqual(encodeFdbAppend(e), new Uint8Array(packageFdb(e)));
  });
});

describe('encodeLinkinfo', () => {
  it('gives a WireGuard device its kind and nothing else (keys and peers go over generic netlink)', () => {
    const bytes = encodeLinkinfo({ kind: 'wireguard', name: 'flannel-wg' });
    // One attribute: IFLA_INFO_KIND (1), length 4 + "wireguard\0" = 14; no IFLA_INFO_DATA.
    assert.deepEqual([...bytes], [14, 0, 1, 0, ...Buffer.from('wireguard\0')]);
    assert.deepEqual(ifla.parseInfo(bytes), { kind: 'wireguard' });
  });

  it('gives a VXLAN device its kind and VXLAN attributes', () => {
    const info = ifla.parseInfo(encodeLinkinfo({ kind: 'vxlan', name: 'flannel.1', vni: 7, port: 0, learning: false, gbp: false }));
    assert.equal(info.kind, 'vxlan');
    assert.equal(ifla.parseVxlan(info.data as Buffer).id, 7);
  });
});

describe('encodeLinkinfo for ipip', () => {
  const ipipSpec = { kind: 'ipip' as const, name: 'flannel.ipip', local: ip('192.168.50.11') };

  const littleEndianOnly = { skip: endianness() === 'LE' ? false : 'the expected bytes are written for a little-endian host' };

  it('writes the bytes <linux/if_tunnel.h> defines: kind "ipip", LOCAL as an in_addr, PMTUDISC 0, TTL 0, TOS 0', littleEndianOnly, () => {
    const le = (n: number): number[] => [n & 0xff, n >> 8]; // rtattr length and type are host order (little-endian here)
    const expected = [
      ...le(9), ...le(1), ...Buffer.from('ipip\0'), 0, 0, 0, // IFLA_INFO_KIND "ipip", padded to 12
      ...le(4 + 8 + 8 + 8 + 8), ...le(2), // IFLA_INFO_DATA, 36 bytes
      ...le(8), ...le(2), 192, 168, 50, 11, // IFLA_IPTUN_LOCAL (2), network byte order
      ...le(5), ...le(10), 0, 0, 0, 0, // IFLA_IPTUN_PMTUDISC (10) = 0: no DF on the outer header
      ...le(5), ...le(4), 0, 0, 0, 0, // IFLA_IPTUN_TTL (4) = 0: inherit
      ...le(5), ...le(5), 0, 0, 0, 0, // IFLA_IPTUN_TOS (5) = 0
    ];
    assert.deepEqual([...encodeLinkinfo(ipipSpec)], expected);
  });

  it('equals the netlink package\'s formatIptun (given LOCAL as the host-order u32 it expects) up to the last attribute\'s padding', littleEndianOnly, () => {
    const localBytes = ip('192.168.50.11').toBytes();
    const localAsHostU32 = endianness() === 'LE' ? localBytes.readUInt32LE(0) : localBytes.readUInt32BE(0);
    const data = packageBytes((out) => out.emit(ifla.formatIptun({ local: localAsHostU32, pmtudisc: 0, ttl: 0, tos: 0 })));
    const reference = packageBytes((out) => out.emit(ifla.formatInfo({ kind: 'ipip', data: Buffer.from(data) })));
    const ours = encodeLinkinfo(ipipSpec);
    // The package leaves the final attribute of the nested data unpadded (IFLA_INFO_DATA 33 bytes
    // long); the kernel's nla_put and iproute2 pad every attribute (36). Both parse the same.
    assert.deepEqual([...ours.subarray(0, 12)], [...reference.subarray(0, 12)]);
    assert.deepEqual([...ours.subarray(14, 45)], [...reference.subarray(14, 45)]);
    assert.deepEqual([ours.readUInt16LE(12), reference[12]], [36, 33]);
    assert.deepEqual([...ours.subarray(45)], [0, 0, 0]);
    const parse = (b: Uint8Array): unknown => ifla.parseIptun(ifla.parseInfo(Buffer.from(b)).data as Buffer);
    assert.deepEqual(parse(ours), parse(reference));
    assert.deepEqual(parse(ours), { local: localAsHostU32, pmtudisc: 0, ttl: 0, tos: 0 });
  });

  it('leaves LOCAL out when none is given, and refuses an IPv6 local address', () => {
    const info = ifla.parseInfo(encodeLinkinfo({ kind: 'ipip', name: 't' }));
    assert.equal(info.kind, 'ipip');
    assert.deepEqual(ifla.parseIptun(info.data as Buffer), { pmtudisc: 0, ttl: 0, tos: 0 });
    assert.throws(() => encodeLinkinfo({ kind: 'ipip', name: 't', local: ip('fd00::1') }), { code: 'EINVAL', message: "create link t: an ipip tunnel's local address must be IPv4, got fd00::1" });
  });
});
