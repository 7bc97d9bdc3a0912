import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors/index.ts';
import type { BackendFactory } from './backend.ts';
import { createBackendRegistry } from './registry.ts';

const factory = (type: string): BackendFactory => ({
  type,
  checkConfig: () => ({ warnings: [] }),
  create: () => {
    throw new Error('not used');
  },
});

describe('backend registry', () => {
  const registry = createBackendRegistry([factory('vxlan'), factory('host-gw'), factory('wireguard')]);

  it('is the one list of types, looked up case-insensitively', () => {
    assert.deepEqual(registry.types, ['vxlan', 'host-gw', 'wireguard']);
    assert.equal(registry.get('VXLAN').type, 'vxlan');
  });

  const unknown: Array<[string, string]> = [
    ['vxlna', 'Backend.Type "vxlna" is not a backend flannel-ts runs (available: vxlan, host-gw, wireguard); did you mean "vxlan"?'],
    ['hostgw', 'Backend.Type "hostgw" is not a backend flannel-ts runs (available: vxlan, host-gw, wireguard); did you mean "host-gw"?'],
    ['WireGuar', 'Backend.Type "WireGuar" is not a backend flannel-ts runs (available: vxlan, host-gw, wireguard); did you mean "wireguard"?'],
    ['udp', 'Backend.Type "udp" is not a backend flannel-ts runs (available: vxlan, host-gw, wireguard)'],
    ['', 'Backend.Type "" is not a backend flannel-ts runs (available: vxlan, host-gw, wireguard)'],
  ];
  for (const [type, message] of unknown) {
    it(`names the available types for "${type}"`, () => {
      assert.throws(
        () => registry.get(type),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'E_BACKEND_UNKNOWN' &&
          err.message === message &&
          err.hint === 'set Backend.Type in the network configuration to one of the available types and restart flanneld',
      );
    });
  }

  it('refuses a type registered twice', () => {
    assert.throws(() => createBackendRegistry([factory('vxlan'), factory('VXLAN')]), { code: 'E_BACKEND_DUPLICATE', message: 'backend type "vxlan" is registered twice' });
  });
});
