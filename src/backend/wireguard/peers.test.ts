import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrivateKey, publicKeyOf, ZERO_KEY } from '../../wireguard/keys.ts';
import type { WireguardDeviceState } from '../../wireguard/types.ts';
import { cidr, ip, peer } from '../testing/fixtures.ts';
import { parseWireguardConfig } from './config.ts';
import { autoEndpointFamily, deviceSpecs, peerChanges, planPeers } from './peers.ts';

const KEY_A = publicKeyOf(generatePrivateKey());
const KEY_B = publicKeyOf(generatePrivateKey());
const PSK = 'kY7tS4wLq2gDqNZpYf0mM1G1q9cQm3uJ0b8Wm5zXo2E=';
const cfg = (o: Record<string, unknown> = {}) => parseWireguardConfig({ Type: 'wireguard', ...o }).config;
const wgPeer = (subnet: string, publicIP: string, key: string, extra: Record<string, unknown> = {}) =>
  peer({ subnet, publicIP, backendType: 'wireguard', backendData: { PublicKey: key, Port: 51820 }, ...extra });

describe('wireguard devices by mode', () => {
  it('separate (the default): one device per family, each with its own port', () => {
    assert.deepEqual(deviceSpecs(cfg(), { v4: true, v6: true }), [
      { name: 'flannel-wg', carries: [4], endpoint: 4, listenPort: 51820 },
      { name: 'flannel-wg-v6', carries: [6], endpoint: 6, listenPort: 51821 },
    ]);
    assert.deepEqual(deviceSpecs(cfg(), { v4: true, v6: false }).map((d) => d.name), ['flannel-wg']);
  });

  it('auto, ipv4, ipv6: one device flannel-wg carrying both families, on ListenPort (as upstream, also in mode ipv6)', () => {
    assert.deepEqual(deviceSpecs(cfg({ Mode: 'auto' }), { v4: true, v6: true }), [{ name: 'flannel-wg', carries: [4, 6], endpoint: 'auto', listenPort: 51820 }]);
    assert.deepEqual(deviceSpecs(cfg({ Mode: 'ipv6' }), { v4: true, v6: true }), [{ name: 'flannel-wg', carries: [4, 6], endpoint: 6, listenPort: 51820 }]);
  });

  it('mode auto reaches a peer over IPv4 unless only public IPv6 addresses on both ends make IPv6 the better bet (upstream\'s rule)', () => {
    const v4 = ip('192.168.50.11');
    const pub6 = ip('2001:db8::1');
    assert.equal(autoEndpointFamily({ publicIP: ip('192.168.50.12') }, { v4, v6: pub6 }), 4, 'no IPv6 on the peer');
    assert.equal(autoEndpointFamily({ publicIP: ip('198.51.100.12'), publicIPv6: ip('2001:db8::2') }, { v4, v6: pub6 }), 4, 'a public IPv4 on the peer');
    assert.equal(autoEndpointFamily({ publicIP: ip('192.168.50.12'), publicIPv6: ip('2001:db8::2') }, { v4, v6: pub6 }), 6, 'private IPv4, public IPv6 on both ends');
    assert.equal(autoEndpointFamily({ publicIP: ip('192.168.50.12'), publicIPv6: ip('fd00::12') }, { v4, v6: pub6 }), 4, 'the peer\'s IPv6 is unique-local');
    assert.equal(autoEndpointFamily({ publicIP: ip('192.168.50.12'), publicIPv6: ip('2001:db8::2') }, { v4, v6: ip('fd00::11') }), 4, 'ours is unique-local');
  });
});

describe('wireguard peer plan', () => {
  const [v4] = deviceSpecs(cfg(), { v4: true, v6: false });
  assert.ok(v4);

  it('gives each wireguard peer its endpoint, subnet, PSK and keepalive', () => {
    const { peers, problems } = planPeers(v4, [wgPeer('10.244.2.0/24', '192.0.2.12', KEY_A)], cfg({ PSK, PersistentKeepaliveInterval: 25 }));
    assert.deepEqual(problems, []);
    assert.deepEqual([...peers.values()], [
      { publicKey: KEY_A, presharedKey: PSK, endpoint: { ip: ip('192.0.2.12'), port: 51820 }, allowedIPs: [cidr('10.244.2.0/24')], replaceAllowedIPs: true, persistentKeepalive: 25 },
    ]);
  });

  it('says why a lease gives no peer', () => {
    const clone = wgPeer('10.244.4.0/24', '192.0.2.14', KEY_A);
    const { peers, problems } = planPeers(
      v4,
      [wgPeer('10.244.2.0/24', '192.0.2.12', KEY_A), peer({ subnet: '10.244.3.0/24', publicIP: '192.0.2.13' }), clone, wgPeer('10.244.5.0/24', '192.0.2.15', 'nope')],
      cfg(),
    );
    assert.deepEqual([...peers.keys()], [KEY_A]);
    assert.deepEqual(problems.map((p) => `${p.lease.subnet} ${p.why}`), [
      '10.244.3.0/24 uses backend "vxlan", not wireguard: it gets no tunnel',
      '10.244.4.0/24 has the same public key as the peer at 192.0.2.12 (a cloned VM or a copied key file?): only one of them gets the tunnel',
      '10.244.5.0/24 has unusable wireguard BackendData ({"PublicKey":"nope","Port":51820}: PublicKey: not a base64 WireGuard key)',
    ]);
  });

  it('one device carries both subnets of a dual-stack peer, reached at the port its data for that family names', () => {
    const lease = wgPeer('10.244.2.0/24', '192.168.50.12', KEY_A, { ipv6Subnet: 'fd00:10:244:2::/64', publicIPv6: '2001:db8::12', backendV6Data: { PublicKey: KEY_A, Port: 51999 } });
    const [auto] = deviceSpecs(cfg({ Mode: 'auto' }), { v4: true, v6: true });
    assert.ok(auto);
    const overIPv6 = planPeers(auto, [lease], cfg({ Mode: 'auto' }), { v4: ip('192.168.50.11'), v6: ip('2001:db8::11') }).peers.get(KEY_A);
    assert.equal(`${overIPv6?.endpoint?.ip.toString()} ${overIPv6?.endpoint?.port}`, '2001:db8::12 51999');
    assert.deepEqual(overIPv6?.allowedIPs.map(String), ['10.244.2.0/24', 'fd00:10:244:2::/64']);
    const overIPv4 = planPeers(auto, [lease], cfg({ Mode: 'auto' }), { v4: ip('192.168.50.11') }).peers.get(KEY_A);
    assert.equal(`${overIPv4?.endpoint?.ip.toString()} ${overIPv4?.endpoint?.port}`, '192.168.50.12 51820');
  });
});

describe('wireguard peer changes', () => {
  const [v4] = deviceSpecs(cfg(), { v4: true, v6: false });
  assert.ok(v4);
  const desired = planPeers(v4, [wgPeer('10.244.2.0/24', '192.0.2.12', KEY_A)], cfg({ PSK })).peers;
  const state = (peers: WireguardDeviceState['peers']): WireguardDeviceState => ({ listenPort: 51820, peers });
  const inPlace = { publicKey: KEY_A, presharedKey: PSK, endpoint: { ip: ip('192.0.2.12'), port: 51820 }, allowedIPs: [cidr('10.244.2.0/24')], persistentKeepalive: 0, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 };

  it('adds a missing peer and removes one nobody wants', () => {
    const changes = peerChanges(state([{ ...inPlace, publicKey: KEY_B }]), desired);
    assert.deepEqual(changes.map((c) => [c.publicKey, c.remove === true]), [[KEY_A, false], [KEY_B, true]]);
  });

  it('changes nothing for a peer in place, even when it roamed to another endpoint', () => {
    assert.deepEqual(peerChanges(state([inPlace]), desired), []);
    assert.deepEqual(peerChanges(state([{ ...inPlace, endpoint: { ip: ip('198.51.100.7'), port: 40000 } }]), desired), []);
  });

  it('corrects allowed IPs, a PSK and a lost endpoint', () => {
    assert.equal(peerChanges(state([{ ...inPlace, allowedIPs: [] }]), desired).length, 1);
    const { presharedKey: _k, ...noPsk } = inPlace;
    assert.equal(peerChanges(state([noPsk]), desired).length, 1);
    const { endpoint: _e, ...noEndpoint } = inPlace;
    assert.equal(peerChanges(state([noEndpoint]), desired).length, 1);
  });

  it('takes a PSK away with the all-zero key when the Backend section has none', () => {
    const plain = planPeers(v4, [wgPeer('10.244.2.0/24', '192.0.2.12', KEY_A)], cfg()).peers;
    const [change] = peerChanges(state([inPlace]), plain);
    assert.equal(change?.presharedKey, ZERO_KEY);
  });
});
