/** config.*, iface.*, sysctl.*, kernel.backend-module, mtu.*, vxlan.checksum-offload, connectivity.peers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetworkConfig } from '../../config/index.ts';
import type { NodeFacts } from '../facts.ts';
import { cidr, healthyFacts, IDX, ip, problems, resultOf, resultsOf, summarize, withKernel } from '../testing/facts.ts';

const withConfig = (f: NodeFacts, json: string): NodeFacts => ({ ...f, datastore: { ...f.datastore, config: { value: parseNetworkConfig(json) } } });

describe('config.network-overlap', () => {
  it('the Calico 192.168.0.0/16 trap: Network over the host LAN fails', () => {
    const f = withConfig(healthyFacts(), '{"Network":"192.168.0.0/16","Backend":{"Type":"vxlan"}}');
    const r = resultOf('config.network-overlap', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /^Network 192\.168\.0\.0\/16 overlaps 192\.168\.50\.11\/24 on eth0/);
  });

  it("a bridge holding this node's own subnet is its pod bridge by another name; one holding another subnet of the Network fails", () => {
    const bridge = (address: string): NodeFacts =>
      withKernel(healthyFacts(), (k) => ({
        ...k,
        links: [...k.links, { index: 9, name: 'podbr0', kind: 'bridge', mtu: 1450, mac: '02:00:00:00:00:09', up: true }],
        addrs: [...k.addrs, { linkIndex: 9, ip: ip(address.split('/')[0] ?? ''), prefix: Number(address.split('/')[1]), scope: 0 }],
        routes: [...k.routes, { dst: cidr(address.replace(/\.\d+\//, '.0/')), linkIndex: 9, onlink: false, table: 254, type: 'unicast', protocol: 2, scope: 253 }],
      }));
    assert.deepEqual(summarize(problems(bridge('10.244.1.129/25'))), []);
    const other = resultOf('config.network-overlap', bridge('10.244.77.1/24'));
    assert.equal(other.status, 'fail');
    assert.match(other.saw, /^Network 10\.244\.0\.0\/16 overlaps 10\.244\.77\.1\/24 on podbr0/);
  });

  it('a VPN route covering the Network: warn', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: [...k.links, { index: 9, name: 'tun9', mtu: 1400, mac: '', up: true }],
      routes: [...k.routes, { dst: cidr('10.0.0.0/8'), gateway: ip('172.16.0.1'), linkIndex: 9, onlink: true, table: 254, type: 'unicast', protocol: 3, scope: 0 }],
    }));
    assert.deepEqual(summarize(problems(f)), ['warn config.network-overlap']);
  });
});

describe('config.pod-cidr (kube mode)', () => {
  const kube = (podCidrs: string[]): NodeFacts => {
    const base = healthyFacts({ mode: 'kube' });
    return { ...base, datastore: { ...base.datastore, node: { value: { name: 'node1', podCidrs } } } };
  };

  it('no spec.podCIDR: fail with kubeadm init --pod-network-cidr', () => {
    const r = resultOf('config.pod-cidr', kube([]));
    assert.equal(r.status, 'fail');
    assert.equal(r.saw, 'node node1 has no spec.podCIDR');
    assert.match(r.fix ?? '', /^give the cluster a pod CIDR: kubeadm init --pod-network-cidr=10\.244\.0\.0\/16/);
  });

  it('podCIDR outside the Network: fail', () => {
    const r = resultOf('config.pod-cidr', kube(['10.100.1.0/24']));
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /10\.100\.1\.0\/24 is outside 10\.244\.0\.0\/16/);
  });

  it('podCIDR other than subnet.env: warn', () => {
    assert.equal(resultOf('config.pod-cidr', kube(['10.244.5.0/24'])).status, 'warn');
  });

  it('etcd mode: skipped', () => {
    assert.equal(resultOf('config.pod-cidr', healthyFacts()).status, 'skip');
  });
});

describe('iface', () => {
  it('two NICs with default routes and no --iface: warn with the hint', () => {
    const base = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: [...k.links, { index: 8, name: 'eth1', mtu: 1500, mac: '02:00:00:00:01:08', up: true }],
      routes: [...k.routes, { dst: cidr('0.0.0.0/0'), gateway: ip('10.0.2.2'), linkIndex: 8, onlink: false, table: 254, type: 'unicast', protocol: 3, scope: 0, metric: 100 }],
    }));
    const f = { ...base, options: { ...base.options, interfaces: { ...base.options.interfaces, iface: [] } }, iface: { value: { name: 'eth0', index: IDX.eth0, address: '192.168.50.11', why: 'default route' } } };
    assert.deepEqual(summarize(problems(f)), ['warn iface.chosen']);
    assert.match(resultOf('iface.chosen', f).fix ?? '', /--iface=<nic> \(one of eth0, eth1\)/);
  });

  it('the lease carries the address of another NIC (Vagrant 10.0.2.15): warn', () => {
    const base = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: [...k.links, { index: 8, name: 'enp0s3', mtu: 1500, mac: '02:00:00:00:01:08', up: true }],
      addrs: [...k.addrs, { ip: ip('10.0.2.15'), prefix: 24, linkIndex: 8, scope: 0 }],
    }));
    const ls = 'value' in base.datastore.leases ? base.datastore.leases.value : [];
    const f = { ...base, datastore: { ...base.datastore, leases: { value: ls.map((l) => (l.subnet?.equals(cidr('10.244.1.0/24')) ? { ...l, attrs: { ...l.attrs, publicIP: ip('10.0.2.15') } } : l)) } } };
    const r = resultOf('iface.chosen', f);
    assert.equal(r.status, 'warn');
    assert.match(r.saw, /this node's lease carries 10\.0\.2\.15, the address of enp0s3/);
  });

  it('a peer routed out of another interface: warn; no route at all: fail', () => {
    const other = withKernel(healthyFacts(), (k) => ({
      ...k,
      links: [...k.links, { index: 8, name: 'eth1', mtu: 1500, mac: '02:00:00:00:01:08', up: true }],
      routes: [...k.routes, { dst: cidr('192.168.50.13/32'), gateway: ip('10.0.0.1'), linkIndex: 8, onlink: true, table: 254, type: 'unicast', protocol: 3, scope: 0 }],
    }));
    assert.deepEqual(summarize(problems(other)), ['warn iface.peers-reachable']);
    assert.match(resultOf('iface.peers-reachable', other).saw, /192\.168\.50\.13 goes out via eth1/);
    const none = withKernel(healthyFacts(), (k) => ({ ...k, routes: k.routes.filter((r) => r.linkIndex !== IDX.eth0) }));
    const r = resultOf('iface.peers-reachable', none);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /192\.168\.50\.12 \(10\.244\.2\.0\/24 via 192\.168\.50\.12\): no route/);
  });

  it('interface not resolvable: fail with --iface', () => {
    const f = { ...healthyFacts(), iface: { error: 'none of the interfaces given with --iface (eth9) exists on this node' } };
    const r = resultOf('iface.chosen', f);
    assert.equal(r.status, 'fail');
    assert.match(r.fix ?? '', /--iface=<nic>/);
  });
});

describe('sysctl', () => {
  it('IPv6 network: net.ipv6.conf.all.forwarding must be 1 too', () => {
    const f = withConfig(healthyFacts({ backend: 'host-gw' }), '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"host-gw"}}');
    const r = resultOf('sysctl.ip-forward', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /net\.ipv6\.conf\.all\.forwarding = 0/);
    assert.match(r.fix ?? '', /^sysctl -w net\.ipv6\.conf\.all\.forwarding=1/);
  });

  it('br_netfilter missing: warn (kubeadm needs it, flannel does not)', () => {
    const base = healthyFacts();
    const { 'net.bridge.bridge-nf-call-iptables': _a, 'net.bridge.bridge-nf-call-ip6tables': _b, ...sysctls } = base.sysctls;
    const f = { ...base, sysctls, modules: base.modules.filter((m) => m !== 'br_netfilter') };
    assert.deepEqual(summarize(problems(f)), ['warn sysctl.br-netfilter']);
    assert.match(resultOf('sysctl.br-netfilter', f).fix ?? '', /^modprobe br_netfilter && sysctl -w net\.bridge\.bridge-nf-call-iptables=1/);
  });
});

describe('kernel.backend-module', () => {
  it('ipip without the module or device: fail with modprobe ipip', () => {
    const base = withKernel(healthyFacts({ backend: 'ipip' }), (k) => ({ ...k, links: k.links.filter((l) => l.name !== 'flannel.ipip') }));
    const f = { ...base, modules: base.modules.filter((m) => m !== 'ipip') };
    const r = resultOf('kernel.backend-module', f);
    assert.equal(r.status, 'fail');
    assert.match(r.fix ?? '', /^modprobe ipip/);
  });

  it('wireguard without the kernel module but with tun: ok (wireguard-go)', () => {
    const base = withKernel(healthyFacts({ backend: 'wireguard' }), (k) => ({ ...k, links: k.links.filter((l) => l.name !== 'flannel-wg') }));
    const f = { ...base, modules: base.modules.filter((m) => m !== 'wireguard') };
    assert.match(resultOf('kernel.backend-module', f).saw, /wireguard-go/);
  });
});

describe('mtu.device', () => {
  it('eth0 raised to 9000 after flanneld started: flannel.1 and FLANNEL_MTU are both off', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, links: k.links.map((l) => (l.name === 'eth0' ? { ...l, mtu: 9000 } : l)) }));
    assert.deepEqual(summarize(problems(f)), ['fail mtu.device']);
    const r = resultOf('mtu.device', f);
    assert.match(r.saw, /flannel\.1 1450 \(want 9000 − 50 = 8950\)/);
    assert.equal((r.fix ?? '').split('\n')[0], 'ip link set dev flannel.1 mtu 8950');
  });

  it('FLANNEL_MTU larger than the tunnel carries: fail', () => {
    const base = healthyFacts({ backend: 'wireguard' });
    const env = 'value' in base.subnetEnv ? base.subnetEnv.value : undefined;
    const f = { ...base, subnetEnv: { value: { ...env, mtu: 1450, ipMasq: true }, path: base.subnetEnv.path } };
    const r = resultOf('mtu.device', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /FLANNEL_MTU 1450 ≠ 1420: pods send packets the tunnel cannot carry/);
  });

  it('Backend.MTU is the underlay when set', () => {
    const f = withConfig(healthyFacts(), '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","MTU":1400}}');
    assert.match(resultOf('mtu.device', f).saw, /Backend\.MTU 1400.*want 1400 − 50 = 1350/);
  });
});

describe('mtu.pods', () => {
  it('a pod veth above FLANNEL_MTU: fail naming it', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, links: k.links.map((l) => (l.index === IDX.veth2 ? { ...l, mtu: 1500 } : l)) }));
    const r = resultOf('mtu.pods', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /veths above FLANNEL_MTU: veth5e6f7a8b 1500/);
  });
});

describe('vxlan.checksum-offload', () => {
  it('kernel 5.4 with the offload on: warn with ethtool', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, release: '5.4.0-150-generic' }));
    assert.deepEqual(summarize(problems(f)), ['warn vxlan.checksum-offload']);
    assert.match(resultOf('vxlan.checksum-offload', f).fix ?? '', /^ethtool -K flannel\.1 tx-checksum-ip-generic off/);
    const off = { ...f, txChecksum: { 'flannel.1': { value: 'off' } } };
    assert.equal(resultOf('vxlan.checksum-offload', off).status, 'ok');
  });
});

describe('connectivity.peers', () => {
  it('overlay silent, underlay answers: UDP 8472 blocked on the path; neither: peer down', () => {
    const f: NodeFacts = {
      ...healthyFacts(),
      probes: [
        { peer: '10.244.2.0/24 via 192.168.50.12', overlay: { ok: true, rttMs: 0.41, target: '10.244.2.0 (flannel.1)' }, underlay: { ok: true, rttMs: 0.2, target: '192.168.50.12 (eth0)' } },
        { peer: '10.244.3.0/24 via 192.168.50.13', overlay: { ok: false, target: '10.244.3.0 (flannel.1)' }, underlay: { ok: true, rttMs: 0.3, target: '192.168.50.13 (eth0)' } },
        { peer: '10.244.4.0/24 via 192.168.50.14', overlay: { ok: false, target: '10.244.4.0 (flannel.1)' }, underlay: { ok: false, target: '192.168.50.14 (eth0)' } },
      ],
    };
    const rs = resultsOf('connectivity.peers', f);
    assert.deepEqual(rs.map((r) => r.status), ['ok', 'fail', 'fail']);
    assert.match(rs[0]?.saw ?? '', /overlay 10\.244\.2\.0 \(flannel\.1\) ok 0\.4 ms/);
    assert.match(rs[1]?.saw ?? '', /UDP 8472 blocked on the path$/);
    assert.match(rs[2]?.saw ?? '', /peer down or unreachable$/);
  });
});
