import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../errors/index.ts';
import { networkConfig } from '../testing/fixtures.ts';
import { checkUdpFamilies, parseUdpConfig } from './config.ts';
import { udp } from './index.ts';

const refuses = (raw: Record<string, unknown>, message: string): void => {
  assert.throws(
    () => parseUdpConfig(raw),
    (err: unknown) => err instanceof ConfigError && err.code === 'E_BACKEND_CONFIG' && err.message === message && (err.hint ?? '').length > 0,
  );
};

describe('udp config', () => {
  it("defaults Port to upstream's 8285", () => {
    assert.deepEqual(parseUdpConfig({ Type: 'udp' }), { config: { port: 8285 }, warnings: [] });
  });

  it('reads Port, case-insensitively as upstream, saying so', () => {
    assert.deepEqual(parseUdpConfig({ Type: 'udp', Port: 9000 }), { config: { port: 9000 }, warnings: [] });
    assert.deepEqual(parseUdpConfig({ type: 'udp', port: 1 }), { config: { port: 1 }, warnings: ['Backend.port is read as Backend.Port'] });
    assert.deepEqual(parseUdpConfig({ Type: 'udp', Port: 65535 }).config, { port: 65535 });
  });

  it('refuses a Port out of range or not a whole number, with the exact message', () => {
    refuses({ Port: 0 }, 'Backend.Port must be a UDP port number from 1 to 65535, got number 0');
    refuses({ Port: -1 }, 'Backend.Port must be a UDP port number from 1 to 65535, got number -1');
    refuses({ Port: 65536 }, 'Backend.Port must be a UDP port number from 1 to 65535, got number 65536');
    refuses({ Port: 8285.5 }, 'Backend.Port must be a UDP port number from 1 to 65535, got the fraction 8285.5');
    refuses({ Port: '8285' }, 'Backend.Port must be a UDP port number from 1 to 65535, got string "8285"');
    refuses({ Port: null }, 'Backend.Port must be a UDP port number from 1 to 65535, got null');
  });

  it('warns about keys udp does not have (naming its one key)', () => {
    assert.deepEqual(parseUdpConfig({ Type: 'udp', VNI: 1, DirectRouting: true }).warnings, [
      'Backend.VNI is not a udp setting and is ignored (udp settings: Port)',
      'Backend.DirectRouting is not a udp setting and is ignored (udp settings: Port)',
    ]);
  });

  it('refuses IPv6 (upstream udp is IPv4 only) and a network without IPv4, with the exact message', () => {
    const dual = networkConfig({ Type: 'udp' }, { EnableIPv6: true, IPv6Network: 'fd00:10::/48' });
    assert.throws(
      () => checkUdpFamilies(dual),
      (err: unknown) => err instanceof ConfigError && err.message === 'the udp backend carries IPv4 only, but EnableIPv6 is true' && /EnableIPv6": false/.test(err.hint ?? ''),
    );
    const v6only = networkConfig({ Type: 'udp' }, { Network: undefined, EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10::/48' });
    assert.throws(() => checkUdpFamilies(v6only), /carries IPv4 only, but EnableIPv6 is true/);
    assert.throws(() => checkUdpFamilies({ enableIPv4: false, enableIPv6: false }), { message: 'the udp backend carries IPv4 only, but EnableIPv4 is false' });
    checkUdpFamilies(networkConfig({ Type: 'udp' }));
  });

  it('checks the families in checkConfig too (as flannel-ts config check runs it)', () => {
    const dual = networkConfig({ Type: 'udp' }, { EnableIPv6: true, IPv6Network: 'fd00:10::/48' });
    assert.throws(() => udp().checkConfig(dual), { message: 'the udp backend carries IPv4 only, but EnableIPv6 is true' });
    assert.deepEqual(udp().checkConfig(networkConfig({ Type: 'udp' })).warnings, []);
  });
});
