import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BackendError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { fuzzParams } from '../../test/harness/fuzz.ts';
import { keyFromBytes } from './keys.ts';
import type { WireguardPeerState } from './types.ts';
import { formatEndpoint, parseGetLines, splitReply } from './uapi.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => keyFromBytes(b)).filter((k) => k !== 'A'.repeat(43) + '=');
const ip = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((v) => IPAddress.fromBigInt(4, v)), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IPAddress.fromBigInt(6, v)));
const cidr = ip.chain((a) => fc.integer({ min: 0, max: a.bits }).map((p) => Cidr.of(a, p)));
const u = fc.integer({ min: 0, max: 2 ** 40 });
const peer: fc.Arbitrary<WireguardPeerState> = fc.record(
  {
    publicKey: key,
    presharedKey: key,
    endpoint: fc.record({ ip, port: fc.integer({ min: 0, max: 65535 }) }),
    allowedIPs: fc.array(cidr, { maxLength: 4 }),
    persistentKeepalive: fc.integer({ min: 0, max: 65535 }),
    lastHandshakeSec: u,
    rxBytes: u,
    txBytes: u,
  },
  { requiredKeys: ['publicKey', 'allowedIPs', 'persistentKeepalive', 'lastHandshakeSec', 'rxBytes', 'txBytes'] },
);

const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

/** A get=1 reply the way wireguard-go writes one (minus its private key, which we leave out). */
function reply(listenPort: number, peers: WireguardPeerState[]): string {
  const lines = [`listen_port=${listenPort}`];
  for (const p of peers) {
    lines.push(`public_key=${hex(p.publicKey)}`, `preshared_key=${p.presharedKey ? hex(p.presharedKey) : '0'.repeat(64)}`, 'protocol_version=1');
    if (p.endpoint) lines.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    lines.push(`last_handshake_time_sec=${p.lastHandshakeSec}`, 'last_handshake_time_nsec=0', `tx_bytes=${p.txBytes}`, `rx_bytes=${p.rxBytes}`, `persistent_keepalive_interval=${p.persistentKeepalive}`);
    for (const c of p.allowedIPs) lines.push(`allowed_ip=${c.toString()}`);
  }
  return `${lines.join('\n')}\nerrno=0\n\n`;
}

describe('wireguard UAPI replies (properties)', () => {
  it('a reply written as wireguard-go writes it parses back to the same state', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.array(peer, { maxLength: 5 }), (port, peers) => {
        const { errno, lines } = splitReply(reply(port, peers), 'wg0');
        assert.equal(errno, 0);
        const state = parseGetLines(lines, 'wg0');
        assert.equal(state.listenPort, port);
        assert.equal(state.peers.length, peers.length);
        state.peers.forEach((got, i) => {
          const want = peers[i];
          assert.ok(want);
          assert.equal(got.publicKey, want.publicKey);
          assert.equal(got.presharedKey, want.presharedKey);
          assert.equal(got.endpoint ? formatEndpoint(got.endpoint) : undefined, want.endpoint ? formatEndpoint(want.endpoint) : undefined);
          assert.deepEqual(got.allowedIPs.map(String), want.allowedIPs.map(String));
          assert.deepEqual([got.persistentKeepalive, got.lastHandshakeSec, got.rxBytes, got.txBytes], [want.persistentKeepalive, want.lastHandshakeSec, want.rxBytes, want.txBytes]);
        });
      }),
      fuzzParams(),
    );
  });

  it('any reply text parses or is a BackendError, never another throw', () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom('public_key=', 'allowed_ip=', 'endpoint=', 'listen_port=', 'rx_bytes=', 'preshared_key=', 'private_key=').chain((k) => fc.string().map((v) => k + v)),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.boolean(), (lines, ending) => {
        const text = `${lines.join('\n')}${ending ? '\nerrno=0\n\n' : ''}`;
        try {
          const r = splitReply(text, 'wg0');
          parseGetLines(r.lines, 'wg0');
        } catch (err) {
          assert.ok(err instanceof BackendError, `not a BackendError: ${String(err)}`);
        }
      }),
      fuzzParams(),
    );
  });
});
