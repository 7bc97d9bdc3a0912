import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../../ip/index.ts';
import { bestRoute, decideLink, parseAllowedIps, routeText, type JsonRoute } from './links.ts';

const subnet = Cidr.parse('10.244.2.0/24');
const base = { from: 'node1', to: 'node2', subnet, peerUnderlayIP: '192.168.50.12' };
const defaultRoute: JsonRoute = { dst: 'default', gateway: '192.168.50.1', dev: 'eth0' };
const underlay: JsonRoute = { dst: '192.168.50.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.50.11' };
const cni0: JsonRoute = { dst: '10.244.1.0/24', dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: '10.244.1.1' };

describe('decideLink: how a node reaches a peer subnet, from its routing table', () => {
  it('vxlan: the onlink route into flannel.1 is a tunnel', () => {
    const route: JsonRoute = { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'flannel.1', flags: ['onlink'] };
    const link = decideLink({ ...base, routes: [defaultRoute, underlay, cni0, route] });
    assert.deepEqual(link, { from: 'node1', to: 'node2', kind: 'tunnel', route: '10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink' });
  });

  it('host-gw, extension and DirectRouting: a route via the peer underlay address', () => {
    const link = decideLink({ ...base, routes: [defaultRoute, underlay, { dst: '10.244.2.0/24', gateway: '192.168.50.12', dev: 'eth0' }] });
    assert.equal(link.kind, 'route');
    assert.equal(link.route, '10.244.2.0/24 via 192.168.50.12 dev eth0');
  });

  it('only the default route left (the route was deleted): missing, naming the route the packet would take', () => {
    const link = decideLink({ ...base, routes: [defaultRoute, underlay, cni0] });
    assert.equal(link.kind, 'missing');
    assert.equal(link.route, 'default via 192.168.50.1 dev eth0');
  });

  it('no route at all: missing with no route text', () => {
    assert.deepEqual(decideLink({ ...base, routes: [underlay] }), { from: 'node1', to: 'node2', kind: 'missing', route: '' });
  });

  it('a host route via some other address does not lead to the peer: missing', () => {
    assert.equal(decideLink({ ...base, routes: [{ dst: '10.244.2.0/24', gateway: '192.168.50.13', dev: 'eth0' }] }).kind, 'missing');
  });

  it('udp: the network route into flannel0 is the tunnel for every peer', () => {
    assert.equal(decideLink({ ...base, routes: [defaultRoute, { dst: '10.244.0.0/16', dev: 'flannel0' }] }).kind, 'tunnel');
  });

  it('wireguard: a tunnel only when a flannel-wg peer holds the subnet in its allowed-ips', () => {
    const routes: JsonRoute[] = [defaultRoute, { dst: '10.244.0.0/16', dev: 'flannel-wg', scope: 'link' }];
    const peers = parseAllowedIps('AAAA=\t10.244.2.0/24\nBBBB=\t10.244.3.0/24 10.244.9.0/24\n');
    assert.deepEqual(decideLink({ ...base, routes, wireguardPeers: peers }).peer, 'peer AAAA= allowed ips 10.244.2.0/24');
    assert.equal(decideLink({ ...base, routes, wireguardPeers: peers.slice(1) }).kind, 'missing');
  });

  it('the most specific route wins, as in the kernel', () => {
    const wide: JsonRoute = { dst: '10.244.0.0/16', dev: 'flannel0' };
    const narrow: JsonRoute = { dst: '10.244.2.0/24', gateway: '192.168.50.12', dev: 'eth0' };
    assert.equal(bestRoute([wide, narrow, defaultRoute], subnet), narrow);
    assert.equal(bestRoute([narrow, wide], Cidr.parse('10.244.3.0/24')), wide);
    assert.equal(bestRoute([{ dst: '10.244.2.0/25', dev: 'eth0' }], subnet), undefined);
  });
});

describe('routeText and parseAllowedIps', () => {
  it('prints a route as ip route does', () => {
    assert.equal(routeText(underlay), '192.168.50.0/24 dev eth0 proto kernel scope link src 192.168.50.11');
  });

  it('skips what is not a CIDR and blank lines', () => {
    assert.deepEqual(parseAllowedIps('\nKEY=\t(none)\n').map((p) => ({ key: p.key, n: p.allowed.length })), [{ key: 'KEY=', n: 0 }]);
  });
});
