import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { AttrStream, ifla, rt } from 'netlink';
import { IPAddress } from '../ip/index.ts';
import { errnoFromNetlink, kernelError } from './errno.ts';
import { bytesToMac, isMac, macToBytes, randomMac } from './mac.ts';
import { AF_BRIDGE, decodeEvent, decodeFdb, decodeLink, decodeRoute, encodeLinkinfo, encodeVxlanLinkinfo, multicastGroups } from './netlink-codec.ts';

describe('netlink codec', () => {
  it('encodes flannel.1 linkinfo the way the kernel parses it', () => {
    const info = ifla.parseInfo(
      encodeVxlanLinkinfo({ name: 'flannel.1', vni: 1, port: 8472, local: IPAddress.parse('192.0.2.11'), linkIndex: 3, learning: false, gbp: false }),
    );
    assert.equal(info.kind, 'vxlan');
    assert.ok(info.data);
    const vx = ifla.parseVxlan(info.data);
    assert.equal(vx.id, 1);
    assert.equal(vx.link, 3);
    assert.equal(vx.learning, 0);
    assert.equal(vx.gbp, undefined);
    assert.deepEqual([...(vx.local ?? [])], [192, 0, 2, 11]);
    assert.deepEqual([...(vx.port ?? [])], [0x21, 0x18], 'port 8472, big-endian');
  });

  it('leaves the port to the kernel when it is 0, and puts IPv6 locals in local6', () => {
    const info = ifla.parseInfo(encodeVxlanLinkinfo({ name: 'flannel-v6.1', vni: 1, port: 0, local: IPAddress.parse('fd00::1'), learning: false, gbp: true }));
    assert.ok(info.data);
    const vx = ifla.parseVxlan(info.data);
    assert.equal(vx.port, undefined);
    assert.equal(vx.local, undefined);
    assert.equal(vx.local6?.length, 16);
    assert.equal(vx.gbp, true);
  });

  it('decodes onlink routes and drops cached clones', () => {
    const msg: rt.RouteMessage = {
      kind: 'route',
      data: { family: 2, dstLen: 24, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: 4 } },
      attrs: { dst: Buffer.from([10, 244, 2, 0]), gateway: Buffer.from([10, 244, 2, 0]), oif: 5, table: 254 },
    };
    const r = decodeRoute(msg);
    assert.equal(r?.dst.toString(), '10.244.2.0/24');
    assert.equal(r?.onlink, true);
    assert.equal(r?.type, 'unicast');
    assert.equal(r?.protocol, 3);
    assert.equal(r?.linkIndex, 5);
    assert.equal(decodeRoute({ ...msg, data: { ...msg.data, flags: { cloned: true } } }), undefined);
  });

  it('decodes FDB entries (family 7) and their notifications', () => {
    const msg: rt.NeighborMessage = {
      kind: 'neighbor',
      data: { family: AF_BRIDGE, ifindex: 5, state: { permanent: true }, flags: { self: true } },
      attrs: { lladdr: Buffer.from([0x0e, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]), dst: Buffer.from([192, 0, 2, 12]) },
    };
    const e = decodeFdb(msg);
    assert.deepEqual({ ...e, dst: e?.dst?.toString() }, { linkIndex: 5, mac: '0e:aa:bb:cc:dd:ee', self: true, permanent: true, dst: '192.0.2.12' });
    assert.deepEqual(multicastGroups(['fdb', 'neigh']), [rt.MulticastGroups.NEIGH]);
  });

  it('decodes a RTM_DELROUTE notification', () => {
    const out = new AttrStream();
    rt.formatRouteMessage({ kind: 'route', data: { family: 2, dstLen: 16, table: 254, type: 'UNICAST' }, attrs: { dst: Buffer.from([10, 5, 0, 0]), oif: 2 } }, out);
    const ev = decodeEvent(rt.MessageType.DELROUTE, Buffer.concat(out.bufs), new Set(['route']));
    assert.equal(ev?.type, 'route');
    assert.equal(ev?.type === 'route' && ev.action, 'del');
    assert.equal(ev?.type === 'route' && ev.route.dst.toString(), '10.5.0.0/16');
    assert.equal(decodeEvent(rt.MessageType.DELROUTE, Buffer.concat(out.bufs), new Set(['link'])), undefined);
  });
});

describe('kernel errors and MACs', () => {
  it('reads errno names from what the netlink package throws', () => {
    assert.equal(errnoFromNetlink(new Error('Request rejected: EEXIST')), 'EEXIST');
    assert.equal(errnoFromNetlink(new Error('Timeout has been reached')), 'ETIMEDOUT');
    assert.equal(errnoFromNetlink(Object.assign(new Error('x'), { code: 'ENOBUFS' })), 'ENOBUFS');
    assert.equal(kernelError('create link', 'flannel.1', 'EEXIST').message, 'create link flannel.1: EEXIST (File exists)');
    assert.match(kernelError('create link', 'flannel.1', 'EPERM').hint ?? '', /CAP_NET_ADMIN/);
  });

  it('parses and formats MACs', () => {
    assert.equal(bytesToMac(macToBytes('0E:AA:bb:cc:dd:ee')), '0e:aa:bb:cc:dd:ee');
    assert.throws(() => macToBytes('0e:aa:bb'), { code: 'E_MAC_SYNTAX' });
    for (let i = 0; i < 20; i++) {
      const mac = randomMac();
      assert.ok(isMac(mac));
      const first = parseInt(mac.slice(0, 2), 16);
      assert.equal(first & 0x03, 0x02, 'locally administered unicast');
    }
  });
});

describe('ipip links', () => {
  /** IFLA_INFO_DATA of an ipip device as the kernel's ipip_fill_info writes it (host-order rtattr headers). */
  function kernelIptunData(local: number[], remote: number[], pmtudisc: number, link = 0): Buffer {
    const attr = (type: number, value: number[]): number[] => {
      const len = 4 + value.length;
      const pad = (4 - (len % 4)) % 4;
      return [len & 0xff, len >> 8, type, 0, ...value, ...new Array<number>(pad).fill(0)];
    };
    const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
    return Buffer.from([
      ...attr(1, u32(link)), // IFLA_IPTUN_LINK
      ...attr(2, local), // IFLA_IPTUN_LOCAL (in_addr)
      ...attr(3, remote), // IFLA_IPTUN_REMOTE
      ...attr(4, [0]), // TTL
      ...attr(5, [0]), // TOS
      ...attr(9, [4]), // PROTO: IPPROTO_IPIP
      ...attr(10, [pmtudisc]), // PMTUDISC
      ...attr(20, u32(0)), // FWMARK
    ]);
  }

  const linkMessage = (data: Buffer): rt.LinkMessage => {
    const info = new AttrStream();
    info.emit(ifla.formatInfo({ kind: 'ipip', data }));
    // IFLA_ADDRESS of an ipip device is its local address (4 bytes).
    return { kind: 'link', data: { index: 7, flags: { up: true } }, attrs: { ifname: 'flannel.ipip', mtu: 1480, address: Buffer.from([192, 168, 50, 11]), linkinfo: Buffer.concat(info.bufs) } };
  };

  it('decodes local, remote, link, TTL and path MTU discovery from a dump', { skip: endianness() === 'LE' ? false : 'the hand-written attributes are little-endian' }, () => {
    const link = decodeLink(linkMessage(kernelIptunData([192, 168, 50, 11], [0, 0, 0, 0], 0)));
    assert.deepEqual({ ...link, ipip: { ...link?.ipip, local: link?.ipip?.local?.toString() } }, {
      index: 7,
      name: 'flannel.ipip',
      kind: 'ipip',
      mtu: 1480,
      mac: 'c0:a8:32:0b',
      up: true,
      ipip: { local: '192.168.50.11', ttl: 0, pmtudisc: false },
    });
    const other = decodeLink(linkMessage(kernelIptunData([10, 0, 0, 1], [203, 0, 113, 9], 1, 3)))?.ipip;
    assert.deepEqual([other?.local?.toString(), other?.remote?.toString(), other?.link, other?.pmtudisc], ['10.0.0.1', '203.0.113.9', 3, true]);
  });

  it('reads back what encodeLinkinfo writes', () => {
    const info = ifla.parseInfo(encodeLinkinfo({ kind: 'ipip', name: 'flannel.ipip', local: IPAddress.parse('192.0.2.11') }));
    const link = decodeLink({ kind: 'link', data: { index: 4 }, attrs: { ifname: 'flannel.ipip', linkinfo: encodeLinkinfo({ kind: 'ipip', name: 'flannel.ipip', local: IPAddress.parse('192.0.2.11') }) } });
    assert.equal(info.kind, 'ipip');
    assert.equal(link?.ipip?.local?.toString(), '192.0.2.11');
    assert.equal(link?.ipip?.remote, undefined);
    assert.equal(link?.ipip?.pmtudisc, false);
  });
});
