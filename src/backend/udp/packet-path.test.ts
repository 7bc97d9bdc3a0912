import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidr, ip } from '../testing/fixtures.ts';
import { checksum, decrementTtl, netUnreachable } from './ipv4.ts';
import { DROP, PacketPath } from './packet-path.ts';
import { RouteTable } from './route-table.ts';
import { addressAt, headerChecksumOk, ipv4Packet } from './testing/packets.ts';

describe('udp packet path: IPv4 header operations', () => {
  it('decrements the TTL keeping the header checksum right, for every TTL and checksum carry', () => {
    for (let ttl = 2; ttl <= 255; ttl++) {
      for (const id of [0x0000, 0x1234, 0xfeff, 0xffff]) {
        const p = ipv4Packet({ src: '10.244.1.2', dst: '10.244.2.3', ttl });
        p[4] = id >> 8;
        p[5] = id & 0xff;
        p[10] = 0;
        p[11] = 0;
        const sum = checksum(p, 0, 20);
        p[10] = sum >> 8;
        p[11] = sum & 0xff;
        assert.ok(decrementTtl(p, 0));
        assert.equal(p[8], ttl - 1);
        assert.ok(headerChecksumOk(p), `ttl ${ttl} id ${id}`);
      }
    }
  });

  it('refuses to decrement a TTL of 1 or 0 (the packet is dropped, as upstream)', () => {
    assert.equal(decrementTtl(ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 1 }), 0), false);
    assert.equal(decrementTtl(ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 0 }), 0), false);
  });

  it("builds upstream's ICMP network unreachable: from the given source, back to the sender, quoting header + 8 bytes", () => {
    const offender = ipv4Packet({ src: '10.244.1.2', dst: '10.244.9.3', proto: 6, payload: 40 });
    const out = new Uint8Array(128);
    const n = netUnreachable(out, offender, 0, offender.length, Number(ip('10.244.1.0').value) | 0);
    assert.equal(n, 20 + 8 + 28);
    assert.equal(out[0], 0x45);
    assert.equal((out[2] as number) * 256 + (out[3] as number), n);
    assert.equal(out[8], 8, "upstream's TTL");
    assert.equal(out[9], 1, 'ICMP');
    assert.equal(addressAt(out, 12), '10.244.1.0');
    assert.equal(addressAt(out, 16), '10.244.1.2');
    assert.ok(headerChecksumOk(out));
    assert.deepEqual([out[20], out[21]], [3, 0], 'destination unreachable / network unreachable');
    assert.equal(checksum(out, 20, n - 20), 0, 'ICMP checksum');
    assert.deepEqual([...out.subarray(28, n)], [...offender.subarray(0, 28)]);
  });

  it('sends no ICMP about ICMP, nor about a later fragment', () => {
    const out = new Uint8Array(128);
    assert.equal(netUnreachable(out, ipv4Packet({ src: '10.0.0.1', dst: '10.9.0.1', proto: 1 }), 0, 52, 1), 0);
    const frag = ipv4Packet({ src: '10.0.0.1', dst: '10.9.0.1', fragmentOffset: 185 });
    assert.equal(netUnreachable(out, frag, 0, frag.length, 1), 0);
  });
});

describe('udp packet path: batches', () => {
  const replies: Uint8Array[] = [];
  const path = new PacketPath({ network: cidr('10.244.0.0/16'), ownSubnet: cidr('10.244.1.0/24'), mtu: 1472, batch: 8, reply: (p, n) => replies.push(p.slice(0, n)) });
  path.setRoutes(new RouteTable(path.network, [{ subnet: cidr('10.244.2.0/24'), publicIP: ip('192.168.50.12') }]));

  const load = (buf: Uint8Array, lens: Int32Array, packets: Uint8Array[]): void => {
    packets.forEach((p, i) => {
      buf.set(p, i * path.slot);
      lens[i] = p.length;
    });
  };

  it('gives each packet from flannel0 its next hop, 0 for the dropped, counting why', () => {
    const packets = [
      ipv4Packet({ src: '10.244.1.2', dst: '10.244.2.3' }),
      ipv4Packet({ src: '10.244.1.2', dst: '10.244.9.3' }),
      ipv4Packet({ src: '10.244.1.2', dst: '10.244.2.4', ttl: 1 }),
      new Uint8Array([0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      ipv4Packet({ src: '10.244.1.2', dst: '10.244.2.200', payload: 1000 }),
    ];
    load(path.tunRx, path.tunRxLen, packets);
    path.txAddr.fill(7);
    path.onTun(packets.length);
    assert.deepEqual([...path.txAddr.subarray(0, 5)], [Number(ip('192.168.50.12').value), 0, 0, 0, Number(ip('192.168.50.12').value)]);
    assert.equal(path.tunRx[8], 63, 'TTL decremented in place');
    assert.equal(path.drops[DROP.unknownSubnet], 1);
    assert.equal(path.drops[DROP.ttlExpired], 1);
    assert.equal(path.drops[DROP.malformed], 1);
    assert.equal(replies.length, 1, 'ICMP network unreachable for the unknown subnet');
    assert.equal(addressAt(replies[0] as Uint8Array, 12), '10.244.9.3', 'from the unreachable address: one of this node would be dropped as a martian');
    assert.equal(addressAt(replies[0] as Uint8Array, 16), '10.244.1.2');
  });

  it('keeps what arrives from the wire for this node, zeroing the length of the rest', () => {
    const packets = [
      ipv4Packet({ src: '10.244.2.3', dst: '10.244.1.2' }),
      ipv4Packet({ src: '10.244.2.3', dst: '10.244.3.2' }),
      ipv4Packet({ src: '10.244.2.3', dst: '10.244.1.2', ttl: 1 }),
      ipv4Packet({ src: '10.244.2.3', dst: '10.244.1.0' }),
    ];
    load(path.udpRx, path.udpRxLen, packets);
    const truncated = ipv4Packet({ src: '10.244.2.3', dst: '10.244.1.2' });
    path.udpRx.set(truncated.subarray(0, 30), 4 * path.slot);
    path.udpRxLen[4] = 30; // total length says 52: the datagram was cut
    path.onUdp(5);
    assert.deepEqual([...path.udpRxLen.subarray(0, 5)], [52, 0, 0, 52, 0]);
    assert.equal(path.udpRx[8], 63);
    assert.equal(path.drops[DROP.notForThisNode], 1);
    assert.equal(path.drops[DROP.ttlExpired], 2);
    assert.equal(path.drops[DROP.malformed], 2);
  });
});
