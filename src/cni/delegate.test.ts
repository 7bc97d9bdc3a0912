import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../ip/index.ts';
import type { SubnetEnv } from '../subnetenv/index.ts';
import { buildDelegate } from './delegate.ts';
import { parseNetConf } from './net-conf.ts';
import { throwsCni } from './test-helpers.ts';

const v4: SubnetEnv = { network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.1/24'), mtu: 1450, ipMasq: true };
const v6: SubnetEnv = { ipv6Network: Cidr.parse('fd00:10:244::/56'), ipv6Subnet: Cidr.parse('fd00:10:244:1::1/64'), mtu: 1430, ipMasq: false };
const dual: SubnetEnv = { ...v4, ...v6, mtu: 1450, ipMasq: true };

const conf = (extra: Record<string, unknown> = {}) => parseNetConf(JSON.stringify({ cniVersion: '0.3.1', name: 'cbr0', type: 'flannel', ...extra }));

describe('delegate configuration', () => {
  it('IPv4: upstream defaults, subnet masked to its network address', () => {
    assert.deepEqual(buildDelegate(conf(), v4), {
      name: 'cbr0',
      type: 'bridge',
      ipMasq: false,
      mtu: 1450,
      isGateway: true,
      cniVersion: '0.3.1',
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]], routes: [{ dst: '10.244.0.0/16' }] },
    });
  });
  it('IPv6 only: one v6 range and route, ipMasq follows FLANNEL_IPMASQ=false', () => {
    const d = buildDelegate(conf(), v6);
    assert.equal(d.ipMasq, true);
    assert.equal(d.mtu, 1430);
    assert.deepEqual(d.ipam, { type: 'host-local', ranges: [[{ subnet: 'fd00:10:244:1::/64' }]], routes: [{ dst: 'fd00:10:244::/56' }] });
  });
  it('dual stack: IPv4 range first, then IPv6; a route to each network', () => {
    assert.deepEqual(buildDelegate(conf(), dual).ipam, {
      type: 'host-local',
      ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10:244:1::/64' }]],
      routes: [{ dst: '10.244.0.0/16' }, { dst: 'fd00:10:244::/56' }],
    });
  });
  it("user delegate keys win over flannel's defaults", () => {
    const d = buildDelegate(conf({ delegate: { hairpinMode: true, isDefaultGateway: true, mtu: 1400, ipMasq: true, isGateway: false, bridge: 'cni1' } }), v4);
    assert.equal(d.hairpinMode, true);
    assert.equal(d.isDefaultGateway, true);
    assert.equal(d.mtu, 1400);
    assert.equal(d.ipMasq, true);
    assert.equal(d.isGateway, false);
    assert.equal(d.bridge, 'cni1');
  });
  it('a delegate type other than bridge gets no isGateway', () => {
    const d = buildDelegate(conf({ delegate: { type: 'ipvlan', master: 'eth0' } }), v4);
    assert.equal(d.type, 'ipvlan');
    assert.equal('isGateway' in d, false);
    assert.equal(d.master, 'eth0');
  });
  it('user ipam.routes come first and are kept; other top-level ipam keys (dataDir) are kept', () => {
    const d = buildDelegate(conf({ ipam: { dataDir: '/tmp/x', routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.254' }] } }), v4);
    assert.deepEqual(d.ipam, {
      dataDir: '/tmp/x',
      type: 'host-local',
      ranges: [[{ subnet: '10.244.1.0/24' }]],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.254' }, { dst: '10.244.0.0/16' }],
    });
  });
  it('a user route to the cluster network is not added twice', () => {
    const d = buildDelegate(conf({ ipam: { routes: [{ dst: '10.244.0.0/16' }] } }), v4);
    assert.deepEqual((d.ipam as { routes: unknown }).routes, [{ dst: '10.244.0.0/16' }]);
  });
  it('a user ipam type is kept (ranges still set by flannel)', () => {
    const d = buildDelegate(conf({ ipam: { type: 'whereabouts' } }), v4);
    assert.equal((d.ipam as { type: string }).type, 'whereabouts');
  });
  it('runtimeConfig is passed to the delegate', () => {
    const rc = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] };
    assert.deepEqual(buildDelegate(conf({ runtimeConfig: rc }), v4).runtimeConfig, rc);
  });
  it('cniVersion is copied only when the configuration has one', () => {
    assert.equal(buildDelegate(conf({ cniVersion: '1.0.0' }), v4).cniVersion, '1.0.0');
  });
  it('rejects delegate.name and delegate.ipam (code 7, upstream wording)', () => {
    throwsCni(() => buildDelegate(conf({ delegate: { name: 'x' } }), v4), 7, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
    throwsCni(() => buildDelegate(conf({ delegate: { ipam: {} } }), v4), 7, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
    throwsCni(() => buildDelegate(conf({ delegate: { type: 7 } }), v4), 7, "'delegate' dictionary, if present, must have (string) 'type' field");
  });
  it('rejects a delegate type that is a path or flannel itself (code 2, key and value named)', () => {
    throwsCni(() => buildDelegate(conf({ delegate: { type: '../../bin/sh' } }), v4), 2, 'unsupported field delegate.type: "../../bin/sh" is not a plugin name');
    throwsCni(() => buildDelegate(conf({ delegate: { type: 'flannel' } }), v4), 2, 'unsupported field delegate.type: "flannel"');
  });
  it('rejects malformed ipam.routes (code 7)', () => {
    throwsCni(() => buildDelegate(conf({ ipam: { routes: 'x' } }), v4), 7, /ipam\.routes must be a list/);
    throwsCni(() => buildDelegate(conf({ ipam: { routes: [{ gw: '1.2.3.4' }] } }), v4), 7, 'failed to read IPAM routes: ipam.routes[0].dst must be a CIDR string');
    throwsCni(() => buildDelegate(conf({ ipam: { routes: [{ dst: '10.0.0.0/99' }] } }), v4), 7, 'failed to read IPAM routes: ipam.routes[0].dst "10.0.0.0/99" is not a CIDR');
    throwsCni(() => buildDelegate(conf({ ipam: { routes: [{ dst: '10.0.0.0/8', gw: 5 }] } }), v4), 7, 'failed to read IPAM routes: ipam.routes[0].gw must be an IP address string');
  });
});
