import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { encodeSetRequest, parseEndpoint, UapiControl } from './uapi.ts';

/**
 * A real `get=1` reply, captured from Debian's wireguard-go 0.0.20220316 after a ping through the
 * tunnel (keys made for that probe only).
 */
const CAPTURED_GET =
  'private_key=e0f4343765e162b7509074b7cbe8ba8629272e7273f66b1874567085c6636e5a\nlisten_port=51820\n' +
  'public_key=693a90fa49d23dcbcd035cc9d004f62ba534b0d92c62fb19b83d424a2d49b52f\n' +
  'preshared_key=2b4e728ebae08fc919ba6c51bab4509f1a9e9fd53496d73c9213c8fa5ed7b1a9\nprotocol_version=1\n' +
  'endpoint=192.0.2.2:51820\nlast_handshake_time_sec=1796329060\nlast_handshake_time_nsec=514317624\n' +
  'tx_bytes=532\nrx_bytes=476\npersistent_keepalive_interval=0\nallowed_ip=10.9.2.0/24\nerrno=0\n\n';

const KEY_A = '4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo=';
const PUB_A = 'H8AVr/BGU3Be1naI1NF6iXr2NHgBgfLJUHQBmI73p04=';
const PUB_B = 'aTqQ+knSPcvNA1zJ0AT2K6U0sNksYvsZuD1CSi1JtS8=';
const PSK = 'K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak=';
const HEX = {
  keyA: 'e0f4343765e162b7509074b7cbe8ba8629272e7273f66b1874567085c6636e5a',
  pubB: '693a90fa49d23dcbcd035cc9d004f62ba534b0d92c62fb19b83d424a2d49b52f',
  psk: '2b4e728ebae08fc919ba6c51bab4509f1a9e9fd53496d73c9213c8fa5ed7b1a9',
  pubA: Buffer.from(PUB_A, 'base64').toString('hex'),
};

type Behaviour = (request: string, sock: Socket) => void;

/** A fake wireguard-go: a UAPI socket that records each request and answers as `behaviour` says. */
class FakeUapi {
  readonly requests: string[] = [];
  behaviour: Behaviour = (_req, sock) => sock.write('errno=0\n\n');
  #server: Server | undefined;
  constructor(readonly path: string) {}

  async listen(): Promise<void> {
    this.#server = createServer((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('utf8');
        // A request ends with a blank line (as wireguard-go reads it).
        if (buf.endsWith('\n\n')) {
          this.requests.push(buf);
          this.behaviour(buf, sock);
          buf = '';
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => this.#server?.listen(this.path, r));
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

describe('wireguard UAPI client', () => {
  let dir: string;
  let fake: FakeUapi;
  let uapi: UapiControl;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-uapi-'));
    fake = new FakeUapi(join(dir, 'flannel-wg.sock'));
    await fake.listen();
    uapi = new UapiControl({ socketDir: dir, timeoutMs: 2000 });
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends a configuration as the exact set=1 text of the protocol', async () => {
    fake.behaviour = (_r, s) => s.write('errno=0\n\n');
    await uapi.configure('flannel-wg', {
      privateKey: KEY_A,
      listenPort: 51820,
      replacePeers: true,
      peers: [
        { publicKey: PUB_B, presharedKey: PSK, endpoint: { ip: IPAddress.parse('192.0.2.2'), port: 51820 }, allowedIPs: [Cidr.parse('10.244.2.0/24')], replaceAllowedIPs: true, persistentKeepalive: 25 },
        { publicKey: PUB_A, endpoint: { ip: IPAddress.parse('fd00::2'), port: 51821 }, allowedIPs: [Cidr.parse('10.244.3.0/24'), Cidr.parse('fd00:10:244:3::/64')] },
        { publicKey: PSK, allowedIPs: [Cidr.parse('10.244.9.0/24')], remove: true },
      ],
    });
    assert.equal(
      fake.requests.at(-1),
      'set=1\n' +
        `private_key=${HEX.keyA}\n` +
        'listen_port=51820\n' +
        'replace_peers=true\n' +
        `public_key=${HEX.pubB}\n` +
        `preshared_key=${HEX.psk}\n` +
        'endpoint=192.0.2.2:51820\n' +
        'persistent_keepalive_interval=25\n' +
        'replace_allowed_ips=true\n' +
        'allowed_ip=10.244.2.0/24\n' +
        `public_key=${HEX.pubA}\n` +
        'endpoint=[fd00::2]:51821\n' +
        'allowed_ip=10.244.3.0/24\n' +
        'allowed_ip=fd00:10:244:3::/64\n' +
        `public_key=${HEX.psk}\n` +
        'remove=true\n' +
        '\n',
    );
  });

  it('sends only what is given (an update of one peer)', () => {
    assert.equal(encodeSetRequest({ peers: [{ publicKey: PUB_B, allowedIPs: [] }] }), `set=1\npublic_key=${HEX.pubB}\n\n`);
    assert.equal(encodeSetRequest({ peers: [] }), 'set=1\n\n');
  });

  it('parses a real get=1 reply of wireguard-go', async () => {
    fake.behaviour = (_r, s) => s.write(CAPTURED_GET);
    const state = await uapi.get('flannel-wg');
    assert.equal(fake.requests.at(-1), 'get=1\n\n');
    assert.deepEqual(state, {
      publicKey: PUB_A,
      listenPort: 51820,
      peers: [
        {
          publicKey: PUB_B,
          presharedKey: PSK,
          endpoint: { ip: IPAddress.parse('192.0.2.2'), port: 51820 },
          allowedIPs: [Cidr.parse('10.9.2.0/24')],
          persistentKeepalive: 0,
          lastHandshakeSec: 1796329060,
          rxBytes: 476,
          txBytes: 532,
        },
      ],
    });
  });

  it('reads a reply that arrives a few bytes at a time', async () => {
    fake.behaviour = (_r, s) => {
      let i = 0;
      const step = (): void => {
        if (i >= CAPTURED_GET.length) return;
        s.write(CAPTURED_GET.slice(i, i + 7));
        i += 7;
        setImmediate(step);
      };
      step();
    };
    const state = await uapi.get('flannel-wg');
    assert.equal(state?.peers[0]?.rxBytes, 476);
  });

  it('reads a device without private key or peers, a peer without PSK, and an IPv6 endpoint with a zone', async () => {
    fake.behaviour = (_r, s) =>
      s.write(`listen_port=0\npublic_key=${HEX.pubB}\npreshared_key=${'0'.repeat(64)}\nendpoint=[fe80::1%veth0]:51820\nlast_handshake_time_sec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\nerrno=0\n\n`);
    assert.deepEqual(await uapi.get('flannel-wg'), {
      listenPort: 0,
      peers: [{ publicKey: PUB_B, endpoint: { ip: IPAddress.parse('fe80::1'), port: 51820 }, allowedIPs: [], persistentKeepalive: 25, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 }],
    });
  });

  it('turns errno=N into a clear error', async () => {
    fake.behaviour = (_r, s) => s.write('errno=-22\n\n');
    await assert.rejects(uapi.configure('flannel-wg', { peers: [] }), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, 'E_WIREGUARD_UAPI');
      assert.equal(err.message, 'wireguard-go refused the configuration of flannel-wg (errno -22, EINVAL)');
      assert.equal(err.hint, "wireguard-go logs the line it refused (flanneld's log, component wireguard-go); this is most likely a bug in flanneld: please report it");
      return true;
    });
    fake.behaviour = (_r, s) => s.write('errno=-98\n\n');
    await assert.rejects(uapi.configure('flannel-wg', { listenPort: 51820, peers: [] }), {
      message: 'wireguard-go could not listen on UDP port 51820 for flannel-wg: the port is in use (errno -98, EADDRINUSE)',
      hint: 'another program or WireGuard device holds that port; stop it or choose another Backend.ListenPort',
    });
    fake.behaviour = (_r, s) => s.write('errno=-5\n\n');
    await assert.rejects(uapi.get('flannel-wg'), { message: 'wireguard-go could not report the state of flannel-wg (errno -5, EIO)' });
  });

  it('says no device when nothing listens: no socket file, or a file without a process', async () => {
    assert.equal(await uapi.get('nodev'), undefined);
    await writeFile(join(dir, 'stale.sock'), '');
    assert.equal(await uapi.get('stale'), undefined);
    assert.equal(await uapi.answers('stale'), false);
    await assert.rejects(uapi.configure('nodev', { peers: [] }), {
      code: 'E_WIREGUARD_UAPI',
      message: `cannot configure nodev: wireguard-go is not running for it (no one answers on ${join(dir, 'nodev.sock')})`,
      hint: 'flanneld starts and restarts wireguard-go itself; see its log for why wireguard-go stopped',
    });
  });

  it('gives up after its deadline when wireguard-go does not answer', async () => {
    fake.behaviour = () => undefined;
    const quick = new UapiControl({ socketDir: dir, timeoutMs: 300 });
    await assert.rejects(quick.get('flannel-wg'), {
      code: 'E_WIREGUARD_UAPI',
      message: `wireguard-go did not answer a get for flannel-wg on ${join(dir, 'flannel-wg.sock')} within 0.3 s`,
    });
  });

  it('stops at once when the signal aborts', async () => {
    fake.behaviour = () => undefined;
    const ac = new AbortController();
    const pending = uapi.get('flannel-wg', ac.signal);
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(pending, { name: 'AbortError' });
    await assert.rejects(uapi.get('flannel-wg', ac.signal), { name: 'AbortError' });
  });

  it('bounds what it reads', async () => {
    fake.behaviour = (_r, s) => s.write(`${'listen_port=1\n'.repeat(200)}`);
    const small = new UapiControl({ socketDir: dir, maxReplyBytes: 1024 });
    await assert.rejects(small.get('flannel-wg'), { message: "wireguard-go's reply to a get for flannel-wg is larger than 1024 bytes, the limit" });
  });

  it('says so when the connection ends before the reply does', async () => {
    fake.behaviour = (_r, s) => s.end('listen_port=1\n');
    await assert.rejects(uapi.get('flannel-wg'), { message: 'wireguard-go closed the connection before its reply to a get for flannel-wg ended' });
  });

  it('names the line of a reply it cannot read', async () => {
    fake.behaviour = (_r, s) => s.write(`listen_port=51820\npublic_key=${HEX.pubB}\nallowed_ip=10.0.0.0/33\nerrno=0\n\n`);
    await assert.rejects(uapi.get('flannel-wg'), { message: `wireguard-go's reply for flannel-wg has an invalid line 3 ("allowed_ip=10.0.0.0/33"): not a CIDR` });
    fake.behaviour = (_r, s) => s.write('listen_port=51820\n\n');
    await assert.rejects(uapi.get('flannel-wg'), { message: 'wireguard-go\'s reply for flannel-wg does not end with an errno line (got "listen_port=51820")' });
  });

  it('refuses to send keys and numbers that are not what the protocol takes', () => {
    assert.throws(() => encodeSetRequest({ privateKey: 'short', peers: [] }), { code: 'E_WIREGUARD_CONFIG', message: 'the private key is not a 32-byte base64 WireGuard key: "short"' });
    assert.throws(() => encodeSetRequest({ listenPort: 70000, peers: [] }), { message: 'the listen port must be a whole number from 0 to 65535, got 70000' });
    assert.throws(() => encodeSetRequest({ peers: [{ publicKey: PUB_B, allowedIPs: [], persistentKeepalive: -1 }] }), {
      message: `the keepalive interval of peer ${PUB_B} must be a whole number from 0 to 65535, got -1`,
    });
  });

  it('reads endpoints as wireguard-go writes them', () => {
    assert.deepEqual(parseEndpoint('192.0.2.2:51820'), { ip: IPAddress.parse('192.0.2.2'), port: 51820 });
    assert.deepEqual(parseEndpoint('[fd00::1]:1'), { ip: IPAddress.parse('fd00::1'), port: 1 });
    assert.equal(parseEndpoint('[192.0.2.2]:1'), undefined);
    assert.equal(parseEndpoint('fd00::1:51820'), undefined);
    assert.equal(parseEndpoint('192.0.2.2:65536'), undefined);
  });
});
