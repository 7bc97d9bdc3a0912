import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRunner } from '../../exec/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import type { Lease } from '../../lease/index.ts';
import { OVERLAY_DEADLINE_S, probePeers } from './probes.ts';

const lease = (subnet: string, ip: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IPAddress.parse(ip), backendType: 'wireguard', backendData: {} } });
const answered = (avg: string): string => `3 packets transmitted, 3 received, 0% packet loss, time 402ms\nrtt min/avg/max/mdev = 0.1/${avg}/0.3/0.05 ms\n`;

describe('probePeers', () => {
  it('gives the overlay ping time for a WireGuard handshake retry (5 s) and ends at three answers; the underlay 3 s', async () => {
    const calls: string[][] = [];
    const runner: CommandRunner = {
      run: async (command, args) => {
        calls.push([command, ...args]);
        const silent = args.at(-1) === '10.244.7.0';
        return { code: silent ? 1 : 0, stdout: silent ? '3 packets transmitted, 0 received, 100% packet loss, time 7000ms\n' : answered('0.25'), stderr: '' };
      },
    };
    const probes = await probePeers({ runner, peers: [lease('10.244.3.0/24', '192.168.50.12'), lease('10.244.7.0/24', '192.168.50.13')], backendType: 'wireguard' });
    assert.ok(OVERLAY_DEADLINE_S > 5, 'the deadline must cover WireGuard\'s 5 s handshake retry');
    assert.deepEqual(calls.find((c) => c.at(-1) === '10.244.3.0'), ['ping', '-n', '-c', '3', '-i', '0.2', '-w', String(OVERLAY_DEADLINE_S), '10.244.3.0']);
    assert.deepEqual(calls.find((c) => c.at(-1) === '192.168.50.12'), ['ping', '-n', '-c', '3', '-i', '0.2', '-w', '3', '192.168.50.12']);
    assert.deepEqual(probes.map((p) => [p.overlay, p.underlay]), [
      [{ ok: true, rttMs: 0.25, target: '10.244.3.0' }, { ok: true, rttMs: 0.25, target: '192.168.50.12' }],
      [{ ok: false, target: '10.244.7.0' }, { ok: true, rttMs: 0.25, target: '192.168.50.13' }],
    ]);
  });
});
