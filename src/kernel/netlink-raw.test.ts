import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFdbAt, decodeNeighborAt, decodeRouteAt } from './netlink-raw.ts';

/** rtattr: u16 len, u16 type, payload, padded to 4 (host order = little endian on the machines we run on). */
function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

describe('netlink-raw', () => {
  it('decodes a route straight from its bytes, after the header filters', () => {
    // rtmsg: AF_INET, /24, table main, proto boot, scope universe, unicast, flags RTNH_F_ONLINK.
    const head = Buffer.from([2, 24, 0, 0, 254, 3, 0, 1, 4, 0, 0, 0]);
    const msg = Buffer.concat([Buffer.alloc(3), head, attr(15, u32(254)), attr(1, ip4('10.1.2.0')), attr(5, ip4('10.1.2.0')), attr(4, u32(7))]);
    const r = decodeRouteAt(msg, 3, msg.length - 3, { table: 254, linkIndex: 7 });
    assert.ok(r);
    assert.equal(r.dst.toString(), '10.1.2.0/24');
    assert.equal(r.gateway?.toString(), '10.1.2.0');
    assert.deepEqual([r.linkIndex, r.onlink, r.table, r.type, r.protocol, r.scope, r.metric], [7, true, 254, 'unicast', 3, 0, undefined]);
    assert.equal(decodeRouteAt(msg, 3, msg.length - 3, { linkIndex: 8 }), undefined);
    assert.equal(decodeRouteAt(msg, 3, msg.length - 3, { table: 255 }), undefined);
  });

  it('decodes neighbours and FDB entries', () => {
    const mac = Buffer.from([0x0e, 0, 0, 0, 0x12, 0xab]);
    // ndmsg: family, pad x3, ifindex i32, state u16, flags u8, type u8.
    const nd = (family: number, state: number, flags: number): Buffer => {
      const b = Buffer.alloc(12);
      b[0] = family;
      b.writeInt32LE(7, 4);
      b.writeUInt16LE(state, 8);
      b[10] = flags;
      return b;
    };
    const neigh = Buffer.concat([nd(2, 0x80, 0), attr(1, ip4('10.1.2.0')), attr(2, mac)]);
    const n = decodeNeighborAt(neigh, 0, neigh.length, 7);
    assert.deepEqual(n && [n.linkIndex, n.ip.toString(), n.mac, n.state], [7, '10.1.2.0', '0e:00:00:00:12:ab', 'permanent']);
    assert.equal(decodeNeighborAt(neigh, 0, neigh.length, 8), undefined);
    const fdb = Buffer.concat([nd(7, 0x80, 0x02), attr(2, mac), attr(1, ip4('172.20.0.1')), attr(7, u32(1))]);
    const e = decodeFdbAt(fdb, 0, fdb.length, 7);
    assert.deepEqual(e && [e.mac, e.dst?.toString(), e.self, e.permanent, e.vni], ['0e:00:00:00:12:ab', '172.20.0.1', true, true, 1]);
    assert.equal(decodeFdbAt(neigh, 0, neigh.length, 7), undefined, 'an IPv4 neighbour is no FDB entry');
  });
});
