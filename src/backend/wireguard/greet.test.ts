import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WireguardControl, WireguardDeviceConfig, WireguardDeviceState } from '../../wireguard/types.ts';
import { greetPeers } from './greet.ts';

/** A device whose peers complete a handshake when their keepalive is switched on, unless listed as down. */
function fakeDevice(keys: string[], down: ReadonlySet<string> = new Set()) {
  const keepalive = new Map(keys.map((k) => [k, 0]));
  const handshake = new Map(keys.map((k) => [k, 0]));
  const calls: string[] = [];
  const control: WireguardControl = {
    kind: 'userspace',
    async configure(_device: string, config: WireguardDeviceConfig) {
      for (const p of config.peers) {
        const before = keepalive.get(p.publicKey) ?? 0;
        const after = p.persistentKeepalive ?? before;
        keepalive.set(p.publicKey, after);
        calls.push(`${p.publicKey}=${after}`);
        if (before === 0 && after > 0 && !down.has(p.publicKey)) handshake.set(p.publicKey, Math.floor(Date.now() / 1000) + 2);
      }
    },
    async get(): Promise<WireguardDeviceState> {
      return { listenPort: 51820, peers: keys.map((publicKey) => ({ publicKey, allowedIPs: [], persistentKeepalive: keepalive.get(publicKey) ?? 0, lastHandshakeSec: handshake.get(publicKey) ?? 0, rxBytes: 0, txBytes: 0 })) };
    },
  };
  return { control, calls, keepalive };
}

describe('greeting the peers after a device start', () => {
  it('switches each waiting peer\'s keepalive off and on (which sends one) and back to off', async () => {
    const d = fakeDevice(['A', 'B']);
    const left = await greetPeers({ control: d.control, device: 'flannel-wg', keepalive: 0, since: Date.now(), signal: AbortSignal.timeout(10_000), pausesMs: [1, 1, 1] });
    assert.equal(left, 0);
    assert.deepEqual(d.calls, ['A=0', 'B=0', 'A=1', 'B=1', 'A=0', 'B=0']);
  });

  it('leaves a configured keepalive as it was', async () => {
    const d = fakeDevice(['A']);
    await greetPeers({ control: d.control, device: 'flannel-wg', keepalive: 25, since: Date.now(), signal: AbortSignal.timeout(10_000), pausesMs: [1, 1] });
    assert.deepEqual(d.calls, ['A=0', 'A=25']);
    assert.equal(d.keepalive.get('A'), 25);
  });

  it('greets again only the peers that did not answer, and says how many never did', async () => {
    const d = fakeDevice(['A', 'B'], new Set(['B']));
    const left = await greetPeers({ control: d.control, device: 'flannel-wg', keepalive: 0, since: Date.now(), signal: AbortSignal.timeout(10_000), pausesMs: [1, 1, 1] });
    assert.equal(left, 1);
    assert.deepEqual(d.calls, ['A=0', 'B=0', 'A=1', 'B=1', 'A=0', 'B=0', 'B=0', 'B=1', 'B=0', 'B=0', 'B=1', 'B=0']);
  });
});
