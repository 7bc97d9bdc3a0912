/**
 * Property tests of the udp backend's packet path: every byte string that arrives from the wire
 * or from flannel0 is either forwarded as a well-formed IPv4 packet or dropped and counted; the
 * path never throws, never writes outside its slot, and never forwards what it was not meant to.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParams } from '../../../test/harness/fuzz.ts';
import { cidr, ip } from '../testing/fixtures.ts';
import { checksum } from './ipv4.ts';
import { PacketPath } from './packet-path.ts';
import { RouteTable } from './route-table.ts';
import { ipv4Packet } from './testing/packets.ts';

const PEER = Number(ip('192.168.50.12').value);

function newPath(): { path: PacketPath; replies: number[] } {
  const replies: number[] = [];
  const path = new PacketPath({ network: cidr('10.244.0.0/16'), ownSubnet: cidr('10.244.1.0/24'), mtu: 1472, batch: 4, reply: (_p, n) => void replies.push(n) });
  path.setRoutes(new RouteTable(path.network, [{ subnet: cidr('10.244.2.0/24'), publicIP: ip('192.168.50.12') }]));
  return { path, replies };
}

/** Packets: arbitrary bytes, and real IPv4 packets with fields and bytes damaged. */
const octet = fc.integer({ min: 0, max: 255 });
const address = fc.oneof(fc.constantFrom('10.244.1.2', '10.244.1.0', '10.244.2.3', '10.244.9.9', '8.8.8.8'), fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')));
const wellFormed = fc
  .record({ src: address, dst: address, ttl: octet, proto: fc.constantFrom(1, 6, 17, 47), payload: fc.integer({ min: 0, max: 1400 }), fragmentOffset: fc.constantFrom(0, 0, 185) })
  .map((o) => ipv4Packet(o));
const damaged = fc.tuple(wellFormed, fc.array(fc.tuple(fc.nat(), octet), { maxLength: 6 }), fc.option(fc.nat(), { nil: undefined })).map(([p, edits, cut]) => {
  for (const [at, v] of edits) p[at % p.length] = v;
  return cut === undefined ? p : p.subarray(0, cut % (p.length + 1));
});
const packet = fc.oneof(fc.uint8Array({ maxLength: 1600 }), wellFormed, damaged);

const totalDrops = (path: PacketPath): number => path.drops.reduce((a, b) => a + b, 0);
const headerOk = (b: Uint8Array, off: number): boolean => checksum(b, off, ((b[off] as number) & 0x0f) * 4) === 0;

describe('fuzz: the udp packet path', () => {
  it('from the wire: each datagram is kept as a checksummed IPv4 packet for this node, or dropped and counted', () => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 4 }), (packets) => {
        const { path } = newPath();
        const fitting = packets.map((p) => p.subarray(0, Math.min(p.length, path.slot)));
        fitting.forEach((p, i) => {
          path.udpRx.set(p, i * path.slot);
          path.udpRxLen[i] = p.length;
        });
        const hadValidChecksum = fitting.map((p) => p.length >= 20 && headerOk(p, 0));
        path.onUdp(fitting.length);
        let kept = 0;
        fitting.forEach((p, i) => {
          const len = path.udpRxLen[i] as number;
          if (len === 0) return;
          kept++;
          const off = i * path.slot;
          assert.equal((path.udpRx[off] as number) >> 4, 4, 'only IPv4 is kept');
          assert.ok(len <= p.length, 'never longer than what arrived');
          const dst = path.udpRx.subarray(off + 16, off + 20).join('.');
          assert.ok(dst.startsWith('10.244.1.'), `only this node's subnet is kept, not ${dst}`);
          if (hadValidChecksum[i]) assert.ok(headerOk(path.udpRx, off), 'the TTL change keeps a valid header checksum valid');
        });
        assert.equal(kept + totalDrops(path), fitting.filter((p) => p.length > 0).length, 'every datagram is kept or counted');
      }),
      fuzzParams(),
    );
  });

  it('from flannel0: each packet gets the next hop of its subnet, or none and a counted drop', () => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 4 }), (packets) => {
        const { path, replies } = newPath();
        const fitting = packets.map((p) => p.subarray(0, Math.min(p.length, path.slot)));
        fitting.forEach((p, i) => {
          path.tunRx.set(p, i * path.slot);
          path.tunRxLen[i] = p.length;
        });
        path.onTun(fitting.length);
        let sent = 0;
        fitting.forEach((_p, i) => {
          const hop = path.txAddr[i] as number;
          if (hop === 0) return;
          sent++;
          assert.equal(hop, PEER >>> 0, 'the only peer');
          const off = i * path.slot;
          assert.equal(path.tunRx.subarray(off + 16, off + 19).join('.'), '10.244.2', "sent only for the peer's subnet");
        });
        assert.equal(sent + totalDrops(path), fitting.length, 'every packet is sent or counted');
        assert.ok(replies.every((n) => n > 0 && n <= 576), 'ICMP replies are small');
        assert.equal(replies.length, path.icmpSent);
      }),
      fuzzParams(),
    );
  });
});
