import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../errors/index.ts';
import { decodeWireguardData, encodeWireguardData } from './backend-data.ts';
import { parseWireguardConfig } from './config.ts';

const PSK = 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2E=';

describe('wireguard config', () => {
  it("has upstream's defaults", () => {
    assert.deepEqual(parseWireguardConfig({ Type: 'wireguard' }), {
      config: { listenPort: 51820, listenPortV6: 51821, persistentKeepaliveInterval: 0, mode: 'separate', implementation: 'auto' },
      warnings: [],
    });
  });

  it('reads every key, case-insensitively as upstream', () => {
    const { config, warnings } = parseWireguardConfig({ Type: 'wireguard', PSK, listenport: 51900, ListenPortV6: 51901, PersistentKeepaliveInterval: 25, Mode: 'auto', MTU: 1400, Implementation: 'userspace' });
    assert.deepEqual(config, { psk: PSK, listenPort: 51900, listenPortV6: 51901, persistentKeepaliveInterval: 25, mode: 'auto', mtu: 1400, implementation: 'userspace' });
    assert.deepEqual(warnings, ['Backend.listenport is read as Backend.ListenPort']);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['PSK not base64', { PSK: 'not a key' }, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "not a key", which is not base64'],
    ['PSK too short', { PSK: 'AAAA' }, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "AAAA", which is base64 of 3 bytes'],
    ['PSK a number', { PSK: 42 }, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got a number'],
    ['PSK one character off', { PSK: 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2F=' }, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "kY7tS4..." (44 characters), which is not canonical base64 (`wg` rejects it too)'],
    ['port zero', { ListenPort: 0 }, 'Backend.ListenPort must be a UDP port number from 1 to 65535, got number 0'],
    ['port too big', { ListenPortV6: 70000 }, 'Backend.ListenPortV6 must be a UDP port number from 1 to 65535, got number 70000'],
    ['port as string', { ListenPort: '51820' }, 'Backend.ListenPort must be a UDP port number from 1 to 65535, got string "51820"'],
    ['keepalive negative', { PersistentKeepaliveInterval: -1 }, 'Backend.PersistentKeepaliveInterval must be a whole number of seconds from 0 (off) to 65535, got number -1'],
    ['unknown mode', { Mode: 'both' }, 'Backend.Mode must be one of "separate", "auto", "ipv4", "ipv6", got string "both"'],
    ['MTU too small', { MTU: 100 }, "Backend.MTU must be a whole number from 148 to 65535 (the underlay MTU, before WireGuard's 80 bytes are taken off), got number 100"],
    ['unknown implementation', { Implementation: 'ebpf' }, 'Backend.Implementation must be one of "auto" (kernel WireGuard when the kernel has it, else wireguard-go), "kernel", "userspace", got string "ebpf"'],
  ];
  for (const [name, raw, message] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseWireguardConfig({ Type: 'wireguard', ...raw }), (err: unknown) => err instanceof ConfigError && err.code === 'E_BACKEND_CONFIG' && err.message === message);
    });
  }

  it('warns on unknown keys and on an all-zero PSK', () => {
    assert.deepEqual(parseWireguardConfig({ Type: 'wireguard', Port: 1, PSK: `${'A'.repeat(43)}=` }).warnings, [
      'Backend.Port is not a wireguard setting and is ignored (wireguard settings: PSK, ListenPort, ListenPortV6, PersistentKeepaliveInterval, Mode, MTU, Implementation)',
      'Backend.PSK is all zero bits: that is no pre-shared key at all; generate one with "wg genpsk"',
    ]);
  });
});

describe('wireguard lease data', () => {
  it('round-trips in upstream key order', () => {
    const data = encodeWireguardData({ publicKey: PSK, port: 51820 });
    assert.equal(JSON.stringify(data), `{"PublicKey":"${PSK}","Port":51820}`);
    assert.deepEqual(decodeWireguardData(data), { publicKey: PSK, port: 51820 });
  });

  it('says what is wrong with unusable data', () => {
    assert.deepEqual(decodeWireguardData(null), { problem: 'no PublicKey and Port' });
    assert.deepEqual(decodeWireguardData({ PublicKey: 'x', Port: 51820 }), { problem: '{"PublicKey":"x","Port":51820}: PublicKey: not a base64 WireGuard key' });
  });
});
