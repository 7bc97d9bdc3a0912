import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { AttrStream, wg } from 'netlink';
import { BackendError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import {
  CTRL_CMD_GETFAMILY, decodeGetDevice, encodeSetDevice, encodeSockaddr, GenetlinkControl, GenlErrnoError, GENL_ID_CTRL, kernelHasWireguard, parseAttrs,
  WG_CMD_GET_DEVICE, WG_CMD_SET_DEVICE, type GenlTransport,
} from './genetlink.ts';
import { NetlinkGenlTransport } from './netlink-transport.ts';

const KEY_A = '4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo=';
const PUB_A = 'H8AVr/BGU3Be1naI1NF6iXr2NHgBgfLJUHQBmI73p04=';
const PUB_B = 'aTqQ+knSPcvNA1zJ0AT2K6U0sNksYvsZuD1CSi1JtS8=';
const PSK = 'K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak=';
const hexOf = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

/** Bytes from hex written with spaces and comments ("# ..." to the end of a line). */
function bytes(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

/** One netlink attribute, written independently of the code under test: header, data, padding. */
function attr(type: number, data: Buffer, nested = false): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + data.length, 0);
  h.writeUInt16LE(type | (nested ? 0x8000 : 0), 2);
  return Buffer.concat([h, data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
}
const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

interface Call {
  family: number;
  cmd: number;
  version: number;
  attrs: Buffer;
  dump: boolean;
}

/** A kernel that has the wireguard family (id 27) and answers as `reply` says. */
function fakeKernel(reply: (c: Call) => Buffer[] | GenlErrnoError = () => [], hasWireguard = true): GenlTransport & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async request(family, cmd, version, attrs, options) {
      const c = { family, cmd, version, attrs, dump: options.dump };
      calls.push(c);
      if (family === GENL_ID_CTRL) {
        if (!hasWireguard) throw new GenlErrnoError('ENOENT');
        return [attr(1, u16(27))];
      }
      const r = reply(c);
      if (r instanceof GenlErrnoError) throw r;
      return r;
    },
    close() {},
  };
}

const LITTLE = endianness() === 'LE';

describe('kernel WireGuard over generic netlink', { skip: LITTLE ? false : 'the byte layouts below are written for a little-endian host' }, () => {
  it('encodes a configure() as the exact WG_CMD_SET_DEVICE attributes of <linux/wireguard.h>', () => {
    const [msg, ...rest] = encodeSetDevice('flannel-wg', {
      privateKey: KEY_A,
      listenPort: 51820,
      replacePeers: true,
      peers: [
        { publicKey: PUB_B, presharedKey: PSK, endpoint: { ip: IPAddress.parse('192.0.2.2'), port: 51820 }, allowedIPs: [Cidr.parse('10.244.2.0/24')], replaceAllowedIPs: true, persistentKeepalive: 25 },
        { publicKey: PUB_A, allowedIPs: [Cidr.parse('10.244.9.0/24')], remove: true },
      ],
    });
    assert.deepEqual(rest, []);
    const expected = bytes(`
      0f00 0200  ${Buffer.from('flannel-wg\0').toString('hex')} 00   # WGDEVICE_A_IFNAME (2), NUL-terminated, padded to 4
      2400 0300  ${hexOf(KEY_A)}                                   # WGDEVICE_A_PRIVATE_KEY (3), 32 bytes
      0600 0600  6cca 0000                                          # WGDEVICE_A_LISTEN_PORT (6), u16 51820 host order
      0800 0500  01000000                                           # WGDEVICE_A_FLAGS (5) = WGDEVICE_F_REPLACE_PEERS
      c400 0880                                                     # WGDEVICE_A_PEERS (8) | NLA_F_NESTED, 196 bytes
        9000 0080                                                   #   peer 0 | NLA_F_NESTED, 144 bytes
          2400 0100  ${hexOf(PUB_B)}                                #     WGPEER_A_PUBLIC_KEY (1)
          2400 0200  ${hexOf(PSK)}                                  #     WGPEER_A_PRESHARED_KEY (2)
          0800 0300  02000000                                       #     WGPEER_A_FLAGS (3) = WGPEER_F_REPLACE_ALLOWEDIPS
          1400 0400  0200 ca6c c0000202 0000000000000000            #     WGPEER_A_ENDPOINT (4): sockaddr_in AF_INET, port 51820 big-endian, 192.0.2.2
          0600 0500  1900 0000                                      #     WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL (5) = 25
          2000 0980                                                 #     WGPEER_A_ALLOWEDIPS (9) | NLA_F_NESTED
            1c00 0080                                               #       allowed IP 0 | NLA_F_NESTED
              0600 0100  0200 0000                                  #         WGALLOWEDIP_A_FAMILY (1) = AF_INET
              0800 0200  0af40200                                   #         WGALLOWEDIP_A_IPADDR (2) = 10.244.2.0
              0500 0300  18 000000                                  #         WGALLOWEDIP_A_CIDR_MASK (3) = 24
        3000 0080                                                   #   peer 1 | NLA_F_NESTED, 48 bytes
          2400 0100  ${hexOf(PUB_A)}                                #     WGPEER_A_PUBLIC_KEY
          0800 0300  01000000                                       #     WGPEER_A_FLAGS = WGPEER_F_REMOVE_ME (nothing else)
    `);
    assert.equal(msg?.toString('hex'), expected.toString('hex'));
  });

  it('encodes an IPv6 endpoint as a 28-byte sockaddr_in6 and an IPv6 allowed IP with AF_INET6', () => {
    assert.equal(encodeSockaddr({ ip: IPAddress.parse('fd00::2'), port: 51821 }).toString('hex'), bytes('0a00 ca6d 00000000 fd000000000000000000000000000002 00000000').toString('hex'));
    const [msg] = encodeSetDevice('flannel-wg-v6', { peers: [{ publicKey: PUB_B, allowedIPs: [Cidr.parse('fd00:10:244:3::/64')] }] });
    assert.equal(
      msg?.toString('hex'),
      bytes(`
        1200 0200 ${Buffer.from('flannel-wg-v6\0').toString('hex')} 0000   # IFNAME, 14 bytes + padding
        5800 0880                                                        # PEERS, 88 bytes
          5400 0080                                                      #   peer, 84 = 4 + 36 + 44
            2400 0100 ${hexOf(PUB_B)}                                    #     PUBLIC_KEY
            2c00 0980                                                    #     ALLOWEDIPS, 44 = 4 + 40
              2800 0080                                                  #       allowed IP, 40 = 4 + 8 + 20 + 8
                0600 0100 0a00 0000                                      #         FAMILY = AF_INET6 (10)
                1400 0200 fd000010024400030000000000000000               #         IPADDR, 16 bytes
                0500 0300 40 000000                                      #         CIDR_MASK = 64
      `).toString('hex'),
    );
  });

  it('sends it as WG_CMD_SET_DEVICE (1), version 1, to the family id the controller gave', async () => {
    const kernel = fakeKernel();
    await new GenetlinkControl(kernel).configure('flannel-wg', { listenPort: 51820, peers: [] });
    assert.deepEqual(
      kernel.calls.map((c) => [c.family, c.cmd, c.version, c.dump, c.attrs.toString('hex')]),
      [
        [GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, false, attr(2, Buffer.from('wireguard\0')).toString('hex')],
        [27, WG_CMD_SET_DEVICE, 1, false, Buffer.concat([attr(2, Buffer.from('flannel-wg\0')), attr(6, u16(51820))]).toString('hex')],
      ],
    );
  });

  it('splits a large configuration as wg does: device attributes first, peers across messages, a long peer continued', () => {
    const peers = Array.from({ length: 600 }, (_, i) => ({
      publicKey: Buffer.alloc(32, i % 251).toString('base64'),
      presharedKey: PSK,
      endpoint: { ip: IPAddress.parse('192.0.2.2').add(i), port: 51820 },
      allowedIPs: [Cidr.of(IPAddress.parse('10.0.0.0').add(i * 256), 24)],
      replaceAllowedIPs: true,
    }));
    const big = { publicKey: PUB_A, allowedIPs: Array.from({ length: 3000 }, (_, i) => Cidr.of(IPAddress.parse('172.16.0.0').add(i * 4), 30)), replaceAllowedIPs: true };
    const msgs = encodeSetDevice('flannel-wg', { privateKey: KEY_A, replacePeers: true, peers: [...peers, big] });
    assert.ok(msgs.length > 4, `${msgs.length} messages`);
    const seen: Array<{ key: string; ips: number; flags: number }> = [];
    msgs.forEach((m, i) => {
      assert.ok(m.length <= 32 * 1024, `message ${i} has ${m.length} bytes`);
      const top = parseAttrs(m);
      assert.deepEqual(top.map((a) => a.type), i === 0 ? [2, 3, 5, 8] : [2, 8], `message ${i}: only the first carries the key and REPLACE_PEERS`);
      for (const p of parseAttrs(top.find((a) => a.type === 8)?.data ?? Buffer.alloc(0))) {
        const pa = parseAttrs(p.data);
        const key = pa.find((a) => a.type === 1)?.data.toString('base64') ?? '';
        const ips = parseAttrs(pa.find((a) => a.type === 9)?.data ?? Buffer.alloc(0)).length;
        seen.push({ key, ips, flags: pa.find((a) => a.type === 3)?.data.readUInt32LE(0) ?? 0 });
      }
    });
    assert.deepEqual(seen.slice(0, 600).map((s) => s.key), peers.map((p) => p.publicKey), 'every peer once, in order');
    const pieces = seen.slice(600);
    assert.ok(pieces.length > 1 && pieces.every((p) => p.key === PUB_A));
    assert.equal(pieces.reduce((n, p) => n + p.ips, 0), 3000);
    assert.deepEqual(pieces.map((p) => p.flags), [2, ...pieces.slice(1).map(() => 0)], 'REPLACE_ALLOWEDIPS only on the first piece');
  });

  it('decodes a GET_DEVICE dump, a peer continued in the next message included', async () => {
    const handshake = Buffer.concat([u64(1796329060), u64(514317624)]);
    const allowed = (ip: string, mask: number): Buffer =>
      attr(0, Buffer.concat([attr(1, u16(2)), attr(2, IPAddress.parse(ip).toBytes()), attr(3, Buffer.from([mask]))]), true);
    const msg1 = Buffer.concat([
      attr(1, u32(7)),
      attr(2, Buffer.from('flannel-wg\0')),
      attr(3, Buffer.from(KEY_A, 'base64')),
      attr(4, Buffer.from(PUB_A, 'base64')),
      attr(6, u16(51820)),
      attr(7, u32(0)),
      attr(8, Buffer.concat([
        attr(0, Buffer.concat([
          attr(1, Buffer.from(PUB_B, 'base64')), attr(2, Buffer.from(PSK, 'base64')),
          attr(4, bytes('0200 ca6c c0000202 0000000000000000')), attr(5, u16(25)), attr(6, handshake),
          attr(7, u64(476)), attr(8, u64(532)), attr(9, allowed('10.9.2.0', 24), true), attr(10, u32(1)),
        ]), true),
      ]), true),
    ]);
    const msg2 = Buffer.concat([
      attr(1, u32(7)),
      attr(2, Buffer.from('flannel-wg\0')),
      attr(8, Buffer.concat([
        attr(0, Buffer.concat([attr(1, Buffer.from(PUB_B, 'base64')), attr(9, allowed('10.9.3.0', 24), true)]), true),
        attr(0, Buffer.concat([attr(1, Buffer.from(PSK, 'base64')), attr(2, Buffer.alloc(32))]), true),
      ]), true),
    ]);
    const kernel = fakeKernel((c) => (c.cmd === WG_CMD_GET_DEVICE ? [msg1, msg2] : []));
    const state = await new GenetlinkControl(kernel).get('flannel-wg');
    assert.deepEqual(kernel.calls.at(-1)?.dump, true);
    assert.deepEqual(state, {
      publicKey: PUB_A,
      listenPort: 51820,
      peers: [
        { publicKey: PUB_B, presharedKey: PSK, endpoint: { ip: IPAddress.parse('192.0.2.2'), port: 51820 }, allowedIPs: [Cidr.parse('10.9.2.0/24'), Cidr.parse('10.9.3.0/24')], persistentKeepalive: 25, lastHandshakeSec: 1796329060, rxBytes: 476, txBytes: 532 },
        { publicKey: PSK, allowedIPs: [], persistentKeepalive: 0, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 },
      ],
    });
    assert.deepEqual(decodeGetDevice([]), { listenPort: 0, peers: [] });
  });

  it('turns "family wireguard not found" into an error saying the kernel has no WireGuard and the userspace path is the alternative', async () => {
    const kernel = fakeKernel(undefined, false);
    const control = new GenetlinkControl(kernel);
    for (const op of [control.configure('flannel-wg', { peers: [] }), control.get('flannel-wg')]) {
      await assert.rejects(op, (err: unknown) => {
        assert.ok(err instanceof BackendError);
        assert.equal(err.code, 'E_WIREGUARD_NO_KERNEL');
        assert.equal(err.message, 'this kernel has no WireGuard: the generic netlink family "wireguard" does not exist (no wireguard module loaded or built in)');
        assert.equal(err.hint, 'load the module (`modprobe wireguard`; Linux 5.6 and later have it) or use the userspace data path, wireguard-go (`apt-get install wireguard-go`; Backend.Implementation "userspace")');
        return true;
      });
    }
    assert.deepEqual(await kernelHasWireguard(kernel), { available: false, reason: 'the generic netlink family "wireguard" does not exist' });
    assert.deepEqual(await kernelHasWireguard(fakeKernel()), { available: true, reason: 'generic netlink family "wireguard" has id 27' });
  });

  it('says what the kernel refused, and a missing device is no device for get()', async () => {
    const kernel = fakeKernel(() => new GenlErrnoError('ENODEV'));
    const control = new GenetlinkControl(kernel);
    assert.equal(await control.get('flannel-wg'), undefined);
    await assert.rejects(control.configure('flannel-wg', { peers: [] }), {
      code: 'E_WIREGUARD_NETLINK',
      message: 'configure WireGuard device flannel-wg: there is no device flannel-wg (ENODEV)',
      hint: 'create the device first (ip link add flannel-wg type wireguard)',
    });
    await assert.rejects(new GenetlinkControl(fakeKernel(() => new GenlErrnoError('EOPNOTSUPP'))).configure('eth0', { peers: [] }), {
      message: 'configure WireGuard device eth0: eth0 is not a WireGuard device (EOPNOTSUPP)',
    });
  });

  it('refuses what the kernel would refuse, before sending', () => {
    assert.throws(() => encodeSetDevice('a-name-that-is-too-long', { peers: [] }), { code: 'E_WIREGUARD_CONFIG', message: 'cannot configure a-name-that-is-too-long: "a-name-that-is-too-long" is not a device name (1-15 bytes)' });
    assert.throws(() => encodeSetDevice('wg0', { peers: [{ publicKey: 'x', allowedIPs: [] }] }), { message: 'cannot configure wg0: peer public key "x"... is not a 32-byte base64 key' });
  });

  it('does not use the netlink package\'s wg encoder: no NLA_F_NESTED (the kernel\'s nla_parse_nested refuses that) and commands off by one', () => {
    assert.equal(wg.Commands.GET_DEVICE, 1, '<linux/wireguard.h> has WG_CMD_GET_DEVICE = 0');
    assert.equal(wg.Commands.SET_DEVICE, 2, '<linux/wireguard.h> has WG_CMD_SET_DEVICE = 1');
    // Encode one peer with the package and look at the PEERS attribute's type bits.
    const stream = new AttrStream();
    stream.emit(wg.formatDevice({ ifname: 'wg0', peers: [{ publicKey: Buffer.alloc(32) }] }));
    const collected = stream.bufs;
    const peersAttr = parseAttrsRaw(Buffer.concat(collected)).find((a) => (a.type & 0x3fff) === 8);
    assert.ok(peersAttr);
    assert.equal(peersAttr.type & 0x8000, 0, 'the package leaves NLA_F_NESTED off');
    const [ours] = encodeSetDevice('wg0', { peers: [{ publicKey: PUB_B, allowedIPs: [] }] });
    assert.equal(parseAttrsRaw(ours ?? Buffer.alloc(0)).find((a) => (a.type & 0x3fff) === 8)?.type, 8 | 0x8000);
  });
});

/** Attributes with their raw type field (flags kept). */
function parseAttrsRaw(buf: Buffer): Array<{ type: number; data: Buffer }> {
  const out: Array<{ type: number; data: Buffer }> = [];
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4) break;
    out.push({ type: buf.readUInt16LE(off + 2), data: buf.subarray(off + 4, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

describe('this kernel', () => {
  it('is probed for WireGuard by resolving the genl family, which changes nothing', async () => {
    const transport = new NetlinkGenlTransport();
    try {
      const probe = await kernelHasWireguard(transport);
      // After the probe the kernel has loaded the module if it could (as `ip link add type wireguard` would).
      const builtIn = existsSync('/sys/module/wireguard');
      assert.equal(probe.available, builtIn, probe.reason);
      if (!probe.available) {
        assert.equal(probe.reason, 'the generic netlink family "wireguard" does not exist');
        await assert.rejects(new GenetlinkControl(transport).get('flannel-wg'), { code: 'E_WIREGUARD_NO_KERNEL' });
      }
    } finally {
      transport.close();
    }
  });
});
