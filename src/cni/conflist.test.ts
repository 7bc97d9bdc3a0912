/** deploy/cni/10-flannel.conflist: upstream's shipped file, and what the runtime makes of it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cidr } from '../ip/index.ts';
import { buildDelegate } from './delegate.ts';
import { parseNetConf } from './net-conf.ts';

const path = new URL('../../deploy/cni/10-flannel.conflist', import.meta.url);

interface Conflist {
  name: string;
  cniVersion: string;
  plugins: Array<Record<string, unknown>>;
}

describe('shipped conflist', () => {
  const list = JSON.parse(readFileSync(path, 'utf8')) as Conflist;
  it('is upstream kube-flannel cni-conf.json', () => {
    assert.deepEqual(list, {
      name: 'cbr0',
      cniVersion: '0.3.1',
      plugins: [
        { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  });
  it('its flannel entry, as the runtime sends it, gives the delegate kubelet pods get', () => {
    // libcni injects the list's name and cniVersion into each plugin's configuration.
    const stdin = JSON.stringify({ ...list.plugins[0], name: list.name, cniVersion: list.cniVersion });
    const env = { network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), mtu: 1450, ipMasq: true };
    assert.deepEqual(buildDelegate(parseNetConf(stdin), env), {
      cniVersion: '0.3.1',
      hairpinMode: true,
      ipMasq: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]], routes: [{ dst: '10.244.0.0/16' }] },
      isDefaultGateway: true,
      isGateway: true,
      mtu: 1450,
      name: 'cbr0',
      type: 'bridge',
    });
  });
});
