import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../errors/index.ts';
import { decodeVxlanData, encodeVxlanData } from './backend-data.ts';
import { parseVxlanConfig } from './config.ts';

describe('parseVxlanConfig', () => {
  it('applies upstream defaults', () => {
    assert.deepEqual(parseVxlanConfig({ Type: 'vxlan' }), {
      config: { vni: 1, port: 0, gbp: false, learning: false, directRouting: false },
      warnings: [],
    });
  });

  it('reads every key, case-insensitively like Go', () => {
    const { config, warnings } = parseVxlanConfig({ Type: 'vxlan', VNI: 42, port: 4789, GBP: true, Learning: true, DirectRouting: true, MTU: 9000 });
    assert.deepEqual(config, { vni: 42, port: 4789, gbp: true, learning: true, directRouting: true, mtu: 9000 });
    assert.deepEqual(warnings, ['Backend.port is read as Backend.Port']);
  });

  it('warns about unknown keys and ignores MacPrefix', () => {
    const { warnings } = parseVxlanConfig({ Type: 'vxlan', VNi: 1, Directrouting: false, Bogus: 1, MacPrefix: '0E-2A' });
    assert.ok(warnings.some((w) => w.startsWith('Backend.Bogus is not a vxlan setting and is ignored (vxlan settings: VNI, Port, GBP, Learning, DirectRouting, MTU, MacPrefix)')), warnings.join('\n'));
    assert.ok(warnings.includes('Backend.MacPrefix is only used on Windows and is ignored'));
  });

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ VNI: '1' }, 'Backend.VNI must be a whole number from 0 to 16777215, got string "1"'],
    [{ VNI: 1.5 }, 'Backend.VNI must be a whole number from 0 to 16777215, got the fraction 1.5'],
    [{ VNI: 16777216 }, 'Backend.VNI must be a whole number from 0 to 16777215, got number 16777216'],
    [{ Port: 70000 }, 'Backend.Port must be a UDP port number from 0 to 65535 (0: the kernel default, 8472), got number 70000'],
    [{ DirectRouting: 'yes' }, 'Backend.DirectRouting must be true or false, got string "yes"'],
    [{ GBP: 1 }, 'Backend.GBP must be true or false, got number 1'],
    [{ MTU: 100 }, 'Backend.MTU must be a whole number from 138 to 65535 (the underlay MTU, before the VXLAN overhead is taken off), got number 100'],
    [{ Learning: null }, 'Backend.Learning must be true or false, got null'],
  ];
  for (const [raw, message] of bad) {
    it(`rejects ${JSON.stringify(raw)}`, () => {
      assert.throws(
        () => parseVxlanConfig({ Type: 'vxlan', ...raw }),
        (err: unknown) => err instanceof ConfigError && err.code === 'E_BACKEND_CONFIG' && err.message === message && (err.hint ?? '').includes('Backend section'),
      );
    });
  }

  it('rejects a key given twice in different case', () => {
    assert.throws(() => parseVxlanConfig({ VNI: 1, vni: 2 }), /Backend.VNI is given twice/);
  });
});

describe('vxlan BackendData', () => {
  it('encodes VNI then VtepMAC, as upstream', () => {
    assert.equal(JSON.stringify(encodeVxlanData({ vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' })), '{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}');
  });

  it('decodes and normalises the MAC', () => {
    assert.deepEqual(decodeVxlanData({ VNI: 7, VtepMAC: 'C6:D2:32:6F:8F:44' }), { vni: 7, vtepMac: 'c6:d2:32:6f:8f:44' });
  });

  it('reports unusable data instead of throwing', () => {
    assert.deepEqual(decodeVxlanData(undefined), { problem: 'no VNI and VtepMAC' });
    const r = decodeVxlanData({ VNI: 1, VtepMAC: 'nope' });
    assert.ok('problem' in r && r.problem.includes('VtepMAC: not a MAC address'), JSON.stringify(r));
    assert.ok('problem' in decodeVxlanData({ VtepMAC: 'c6:d2:32:6f:8f:44' }));
  });
});
