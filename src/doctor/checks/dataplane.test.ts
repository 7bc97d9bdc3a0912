import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeFacts } from '../facts.ts';
import { cidr, healthyFacts, IDX, ip, NODES, problems, resultOf, resultsOf, summarize, withKernel } from '../testing/facts.ts';

const node2 = cidr('10.244.2.0/24');

describe('dataplane.peers', () => {
  it('vxlan: a wrong FDB destination (peer moved) is named with the replace command', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, fdb: k.fdb.map((e) => (e.mac === '0a:00:00:00:00:02' ? { ...e, dst: ip('192.168.50.99') } : e)) }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers']);
    const r = resultOf('dataplane.peers', f);
    assert.match(r.saw, /wrong fdb: dst 192\.168\.50\.99, want fdb 0a:00:00:00:00:02 dst 192\.168\.50\.12 dev flannel\.1/);
    assert.match(r.fix ?? '', /^bridge fdb replace 0a:00:00:00:00:02 dev flannel\.1 dst 192\.168\.50\.12 self permanent\nor restart flanneld/);
  });

  it('vxlan: a stale neighbour MAC (peer re-created its VTEP) fails', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, neighbors: k.neighbors.map((n) => (n.ip.equals(ip('10.244.3.0')) ? { ...n, mac: '0a:00:00:00:00:33' } : n)) }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers']);
    assert.match(resultOf('dataplane.peers', f).fix ?? '', /^ip neigh replace 10\.244\.3\.0 lladdr 0a:00:00:00:00:03 dev flannel\.1 nud permanent/);
  });

  it('vxlan: a peer with another VNI is a problem of that peer', () => {
    const base = healthyFacts();
    const leases = 'value' in base.datastore.leases ? base.datastore.leases.value : [];
    const f = { ...base, datastore: { ...base.datastore, leases: { value: leases.map((l) => (l.subnet?.equals(node2) ? { ...l, attrs: { ...l.attrs, backendData: { VNI: 2, VtepMAC: '0a:00:00:00:00:02' } } } : l)) } } };
    const r = resultOf('dataplane.peers', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /has VNI 2, ours is 1/);
  });

  it('host-gw: a missing route via the peer address', () => {
    const f = withKernel(healthyFacts({ backend: 'host-gw' }), (k) => ({ ...k, routes: k.routes.filter((r) => !r.dst.equals(node2)) }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers']);
    assert.match(resultOf('dataplane.peers', f).fix ?? '', /^ip route replace 10\.244\.2\.0\/24 via 192\.168\.50\.12 dev eth0\n/);
  });

  it('host-gw: a peer off our L2 network cannot be routed', () => {
    const base = healthyFacts({ backend: 'host-gw' });
    const leases = 'value' in base.datastore.leases ? base.datastore.leases.value : [];
    const f = { ...base, datastore: { ...base.datastore, leases: { value: leases.map((l) => (l.subnet?.equals(node2) ? { ...l, attrs: { ...l.attrs, publicIP: ip('10.9.0.12') } } : l)) } } };
    const r = resultOf('dataplane.peers', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /is not on the L2 network of eth0/);
  });

  it('vxlan DirectRouting: peers on eth0 get direct routes, no FDB', () => {
    const f = withKernel(healthyFacts({ backend: 'vxlan-direct' }), (k) => ({ ...k, routes: k.routes.filter((r) => !r.dst.equals(node2)) }));
    assert.match(resultOf('dataplane.peers', f).fix ?? '', /^ip route replace 10\.244\.2\.0\/24 via 192\.168\.50\.12 dev eth0/);
  });

  it('ipip: the route goes onlink through flannel.ipip', () => {
    const f = withKernel(healthyFacts({ backend: 'ipip' }), (k) => ({ ...k, routes: k.routes.filter((r) => !r.dst.equals(node2)) }));
    assert.match(resultOf('dataplane.peers', f).fix ?? '', /^ip route replace 10\.244\.2\.0\/24 via 192\.168\.50\.12 dev flannel\.ipip onlink/);
  });

  it('udp: only the Network route through flannel0', () => {
    const f = withKernel(healthyFacts({ backend: 'udp' }), (k) => ({ ...k, routes: k.routes.filter((r) => !r.dst.equals(cidr('10.244.0.0/16'))) }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers']);
    assert.match(resultOf('dataplane.peers', f).fix ?? '', /^ip route replace 10\.244\.0\.0\/16 dev flannel0/);
  });

  it('wireguard: a missing peer (PSK configured: restart rather than print the key)', () => {
    const base = healthyFacts({ backend: 'wireguard' });
    const wg = 'value' in base.wireguard ? base.wireguard.value : [];
    const f: NodeFacts = { ...base, wireguard: { value: wg.map((d) => ({ ...d, peers: d.peers.filter((p) => p.publicKey !== NODES[1]?.wgKey) })) } };
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers']);
    const r = resultOf('dataplane.peers', f);
    assert.match(r.saw, new RegExp(`missing wireguard peer ${NODES[1]?.wgKey.replace(/[+/]/g, '\\$&') ?? ''} on flannel-wg \\(endpoint 192\\.168\\.50\\.12:51820, allowed-ips 10\\.244\\.2\\.0/24\\)`));
    assert.match(r.fix ?? '', /^restart flanneld/);
  });

  it('wireguard: allowed-ips lacking the subnet', () => {
    const base = healthyFacts({ backend: 'wireguard' });
    const wg = 'value' in base.wireguard ? base.wireguard.value : [];
    const f: NodeFacts = { ...base, wireguard: { value: wg.map((d) => ({ ...d, peers: d.peers.map((p) => (p.publicKey === NODES[2]?.wgKey ? { ...p, allowedIps: [] } : p)) })) } };
    assert.match(resultOf('dataplane.peers', f).saw, /allowed-ips none lack 10\.244\.3\.0\/24/);
  });

  it('extension: skipped with the reason', () => {
    assert.match(resultOf('dataplane.peers', healthyFacts({ backend: 'extension' })).saw, /SubnetAddCommand/);
  });

  it('unreadable leases: skip, never a false ok', () => {
    const base = healthyFacts();
    const f = { ...base, datastore: { ...base.datastore, leases: { error: 'etcd: deadline exceeded' } } };
    assert.equal(resultOf('dataplane.peers', f).status, 'skip');
    assert.equal(resultOf('dataplane.stale', f).status, 'skip');
  });
});

describe('dataplane.stale', () => {
  it('vxlan: route, neighbour and FDB of a gone peer: warn with the delete commands', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      routes: [...k.routes, { dst: cidr('10.244.9.0/24'), gateway: ip('10.244.9.0'), linkIndex: IDX.dev, onlink: true, table: 254, type: 'unicast', protocol: 3, scope: 0 }],
      neighbors: [...k.neighbors, { linkIndex: IDX.dev, ip: ip('10.244.9.0'), mac: '0a:00:00:00:00:09', state: 'permanent' }],
      fdb: [...k.fdb, { linkIndex: IDX.dev, mac: '0a:00:00:00:00:09', dst: ip('192.168.50.19'), self: true, permanent: true }],
    }));
    assert.deepEqual(summarize(problems(f)), ['warn dataplane.stale']);
    const r = resultOf('dataplane.stale', f);
    assert.match(r.saw, /^3 object\(s\) for subnets no lease has: route 10\.244\.9\.0\/24 via 10\.244\.9\.0 dev flannel\.1 onlink/);
    assert.equal((r.fix ?? '').split('\n')[0], 'ip route del 10.244.9.0/24 dev flannel.1 && ip neigh del 10.244.9.0 dev flannel.1 && bridge fdb del 0a:00:00:00:00:09 dev flannel.1 dst 192.168.50.19 self');
  });

  it('wireguard: a peer whose key no lease has', () => {
    const base = healthyFacts({ backend: 'wireguard' });
    const wg = 'value' in base.wireguard ? base.wireguard.value : [];
    const gone = Buffer.alloc(32, 7).toString('base64');
    const f: NodeFacts = { ...base, wireguard: { value: wg.map((d) => ({ ...d, peers: [...d.peers, { publicKey: gone, endpoint: '192.168.50.17:51820', allowedIps: ['10.244.7.0/24'], presharedKey: true }] })) } };
    assert.deepEqual(summarize(problems(f)), ['warn dataplane.stale']);
    assert.match(resultOf('dataplane.stale', f).fix ?? '', new RegExp(`^wg set flannel-wg peer ${gone.replace(/[+/]/g, '\\$&')} remove`));
  });

  it('host-gw leftovers on eth0 after the peer left', () => {
    const f = withKernel(healthyFacts({ backend: 'host-gw' }), (k) => ({ ...k, routes: [...k.routes, { dst: cidr('10.244.9.0/24'), gateway: ip('192.168.50.19'), linkIndex: IDX.eth0, onlink: false, table: 254, type: 'unicast', protocol: 3, scope: 0 }] }));
    assert.deepEqual(summarize(problems(f)), ['warn dataplane.stale']);
  });
});

describe('dataplane.device', () => {
  it('vxlan: MAC differs from the lease VtepMAC (ff#1330)', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, links: k.links.map((l) => (l.name === 'flannel.1' ? { ...l, mac: '0a:00:00:00:00:aa' } : l)) }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.device']);
    const r = resultOf('dataplane.device', f);
    assert.match(r.saw, /MAC 0a:00:00:00:00:aa, but the lease advertises VtepMAC 0a:00:00:00:00:01/);
    assert.equal(r.fix, 'ip link set flannel.1 address 0a:00:00:00:00:01');
  });

  it('vxlan: wrong VNI/port/local: delete and restart', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: k.links.map((l) => (l.vxlan ? { ...l, vxlan: { ...l.vxlan, port: 4789, local: ip('192.168.50.99') } } : l)),
    }));
    const r = resultOf('dataplane.device', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /dstport 4789 \(config: 8472\); local 192\.168\.50\.99 \(eth0 has 192\.168\.50\.11\)/);
    assert.match(r.fix ?? '', /^ip link del flannel\.1, then restart flanneld/);
  });

  it('down, and a stale address from an earlier lease (ff#1850)', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: k.links.map((l) => (l.name === 'flannel.1' ? { ...l, up: false } : l)),
      addrs: [...k.addrs, { ip: ip('10.244.8.0'), prefix: 32, linkIndex: IDX.dev, scope: 0 }],
    }));
    const r = resultOf('dataplane.device', f);
    assert.equal(r.status, 'fail');
    assert.equal(r.fix, 'ip link set flannel.1 up\nip addr flush dev flannel.1 && ip addr add 10.244.1.0/32 dev flannel.1');
  });

  it('missing device: fail, and dataplane.peers skips instead of listing every peer', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, links: k.links.filter((l) => l.name !== 'flannel.1'), routes: k.routes.filter((r) => r.linkIndex !== IDX.dev) }));
    const results = resultsOf('dataplane.device', f);
    assert.deepEqual(results.map((r) => [r.status, r.saw]), [['fail', 'flannel.1 does not exist']]);
    assert.equal(resultOf('dataplane.peers', f).status, 'skip');
  });

  it('wireguard: a device key other than the lease key', () => {
    const base = healthyFacts({ backend: 'wireguard' });
    const wg = 'value' in base.wireguard ? base.wireguard.value : [];
    const f: NodeFacts = { ...base, wireguard: { value: wg.map((d) => ({ ...d, publicKey: Buffer.alloc(32, 5).toString('base64') })) } };
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.device']);
    assert.match(resultOf('dataplane.device', f).saw, /but the lease advertises/);
  });
});
