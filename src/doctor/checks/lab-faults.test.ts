/**
 * Every fault of `lab break` (docs: the plan's lab table), expressed as the one fact it changes:
 * doctor must fail exactly the checks named for it, with a fix that repairs it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDaemonOptions } from '../../config/index.ts';
import type { NodeFacts } from '../facts.ts';
import { cidr, healthyFacts, ip, IDX, problems, resultOf, summarize, withIptables, withKernel, withNft } from '../testing/facts.ts';

const stopped = (f: NodeFacts): NodeFacts => ({
  ...f,
  flanneld: {
    processes: [],
    healthz: { url: 'http://127.0.0.1:8081', healthz: { error: 'connect ECONNREFUSED 127.0.0.1:8081' }, readyz: { error: 'connect ECONNREFUSED 127.0.0.1:8081' } },
  },
});

describe('lab faults: each fails exactly its checks', () => {
  it('healthy node: nothing warns or fails', () => {
    assert.deepEqual(summarize(problems(healthyFacts())), []);
  });

  it('udp-blocked (iptables INPUT drop of UDP 8472): firewall.input-port', () => {
    const f = withIptables(healthyFacts(), (t) => t.replace(':FLANNEL-FWD - [0:0]\n', ':FLANNEL-FWD - [0:0]\n-A INPUT -p udp -m udp --dport 8472 -j DROP\n'));
    assert.deepEqual(summarize(problems(f)), ['fail firewall.input-port']);
    const r = resultOf('firewall.input-port', f);
    assert.match(r.saw, /vxlan \(UDP 8472\): iptables-nft filter INPUT: -A INPUT -p udp -m udp --dport 8472 -j DROP/);
    assert.equal(r.fix, 'iptables -D INPUT -p udp -m udp --dport 8472 -j DROP');
  });

  it('udp-blocked by a native nft table: firewall.input-port, fixed with an accept inserted in that chain', () => {
    const f = withNft(healthyFacts(), (t) => `${t}table inet fw {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tudp dport 8472 drop\n\t}\n}\n`);
    assert.deepEqual(summarize(problems(f)), ['fail firewall.input-port']);
    const r = resultOf('firewall.input-port', f);
    assert.match(r.saw, /nft inet fw input: udp dport 8472 drop/);
    assert.match(r.fix ?? '', /^nft insert rule inet fw input udp dport 8472 accept/);
  });

  it('ip-forward-off: sysctl.ip-forward', () => {
    const f = { ...healthyFacts(), sysctls: { ...healthyFacts().sysctls, 'net.ipv4.ip_forward': '0' } };
    assert.deepEqual(summarize(problems(f)), ['fail sysctl.ip-forward']);
    const r = resultOf('sysctl.ip-forward', f);
    assert.match(r.saw, /^net\.ipv4\.ip_forward = 0/);
    assert.match(r.fix ?? '', /^sysctl -w net\.ipv4\.ip_forward=1/);
  });

  it('forward-drop (policy DROP, flanneld with --iptables-forward-rules=false, no FLANNEL-FWD): firewall.forward', () => {
    const base = healthyFacts();
    const argv = ['--etcd-endpoints=http://192.168.50.2:2379', '--iface=eth0', '--ip-masq', '--healthz-port=8081', '--iptables-forward-rules=false'];
    const f = withIptables({ ...base, options: parseDaemonOptions(argv, {}, '6.18.44') }, (t) =>
      t.replace(':FORWARD ACCEPT', ':FORWARD DROP').split('\n').filter((l) => !l.includes('FLANNEL-FWD')).join('\n'),
    );
    assert.deepEqual(summarize(problems(f)), ['fail firewall.forward']);
    const r = resultOf('firewall.forward', f);
    assert.match(r.saw, /iptables-nft filter FORWARD: policy DROP/);
    assert.match(r.fix ?? '', /--iptables-forward-rules=false/);
    assert.match(r.fix ?? '', /iptables -I FORWARD -s 10\.244\.0\.0\/16 -j ACCEPT && iptables -I FORWARD -d 10\.244\.0\.0\/16 -j ACCEPT/);
  });

  it('peer-route-missing (flanneld killed, node2 route/neigh/FDB deleted): dataplane.peers, flanneld.process, flanneld.health', () => {
    const f = withKernel(stopped(healthyFacts()), (k) => ({
      ...k,
      routes: k.routes.filter((r) => !r.dst.equals(cidr('10.244.2.0/24'))),
      neighbors: k.neighbors.filter((n) => !n.ip.equals(ip('10.244.2.0'))),
      fdb: k.fdb.filter((e) => e.mac !== '0a:00:00:00:00:02'),
    }));
    assert.deepEqual(summarize(problems(f)), ['fail dataplane.peers', 'fail flanneld.health', 'fail flanneld.process']);
    const r = resultOf('dataplane.peers', f);
    assert.match(r.saw, /peer 10\.244\.2\.0\/24 via 192\.168\.50\.12: missing route 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/);
    assert.match(r.saw, /missing fdb 0a:00:00:00:00:02 dst 192\.168\.50\.12 dev flannel\.1/);
    assert.equal(
      (r.fix ?? '').split('\n')[0],
      'ip neigh replace 10.244.2.0 lladdr 0a:00:00:00:00:02 dev flannel.1 nud permanent && bridge fdb replace 0a:00:00:00:00:02 dev flannel.1 dst 192.168.50.12 self permanent && ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
    );
    assert.match(resultOf('flanneld.health', f).saw, /ECONNREFUSED/);
  });

  it('flanneld-stopped (lease left to expire): flanneld.process, flanneld.health', () => {
    const f = stopped(healthyFacts());
    assert.deepEqual(summarize(problems(f)), ['fail flanneld.health', 'fail flanneld.process']);
    assert.equal(resultOf('flanneld.process', f).saw, 'no flanneld process in this network namespace');
    assert.match(resultOf('flanneld.process', f).fix ?? '', /systemctl restart flanneld/);
  });

  it('mtu-cni0 (cni0 1500 over vxlan 1450): mtu.pods', () => {
    const f = withKernel(healthyFacts(), (k) => ({ ...k, links: k.links.map((l) => (l.name === 'cni0' ? { ...l, mtu: 1500 } : l)) }));
    assert.deepEqual(summarize(problems(f)), ['fail mtu.pods']);
    const r = resultOf('mtu.pods', f);
    assert.match(r.saw, /cni0 MTU 1500 > FLANNEL_MTU 1450/);
    assert.equal(r.fix, 'ip link set dev cni0 mtu 1450');
  });

  it('cni0-stale-address (an extra address outside FLANNEL_SUBNET): cni.bridge-address', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      addrs: [...k.addrs, { ip: ip('10.244.77.1'), prefix: 24, linkIndex: IDX.cni0, scope: 0 }],
      routes: [...k.routes, { dst: cidr('10.244.77.0/24'), linkIndex: IDX.cni0, onlink: false, table: 254, type: 'unicast', protocol: 2, scope: 253 }],
    }));
    assert.deepEqual(summarize(problems(f)), ['fail cni.bridge-address']);
    const r = resultOf('cni.bridge-address', f);
    assert.match(r.saw, /10\.244\.77\.1\/24 is outside FLANNEL_SUBNET/);
    assert.match(r.fix ?? '', /^ip addr del 10\.244\.77\.1\/24 dev cni0/);
  });

  it('cni0 with only a stale address: the fix deletes cni0', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      addrs: k.addrs.map((a) => (a.linkIndex === IDX.cni0 ? { ...a, ip: ip('10.244.9.1') } : a)),
    }));
    assert.deepEqual(summarize(problems(f)), ['fail cni.bridge-address']);
    assert.match(resultOf('cni.bridge-address', f).fix ?? '', /^ip link del cni0/);
  });

  it('cni-plugin-missing (bridge removed from the bin dir): cni.plugins', () => {
    const base = healthyFacts();
    const f = { ...base, cni: { ...base.cni, binDirs: [{ dir: '/opt/cni/bin', plugins: { value: ['flannel', 'host-local', 'loopback', 'portmap'] } }] } };
    assert.deepEqual(summarize(problems(f)), ['fail cni.plugins']);
    const r = resultOf('cni.plugins', f);
    assert.match(r.saw, /missing from \/opt\/cni\/bin: bridge/);
    assert.match(r.fix ?? '', /cp \/usr\/lib\/cni\/bridge \/opt\/cni\/bin\//);
  });

  it('stray-conflist (00-calico.conflist sorts first): cni.conflist', () => {
    const base = healthyFacts();
    const calico = { name: '00-calico.conflist', text: JSON.stringify({ name: 'k8s-pod-network', cniVersion: '0.3.1', plugins: [{ type: 'calico', ipam: { type: 'calico-ipam' } }] }) };
    const files = 'value' in base.cni.confFiles ? base.cni.confFiles.value : [];
    const f = { ...base, cni: { ...base.cni, confFiles: { value: [calico, ...files] } } };
    assert.deepEqual(summarize(problems(f)), ['fail cni.conflist']);
    const r = resultOf('cni.conflist', f);
    assert.match(r.saw, /00-calico\.conflist sorts before 10-flannel\.conflist/);
    assert.match(r.fix ?? '', /^remove the leftover: mv \/etc\/cni\/net\.d\/00-calico\.conflist/);
  });

  it('network-overlap (10.244.250.1/24 on eth0): config.network-overlap', () => {
    const f = withKernel(healthyFacts(), (k) => ({
      ...k,
      addrs: [...k.addrs, { ip: ip('10.244.250.1'), prefix: 24, linkIndex: IDX.eth0, scope: 0 }],
      routes: [...k.routes, { dst: cidr('10.244.250.0/24'), linkIndex: IDX.eth0, onlink: false, table: 254, type: 'unicast', protocol: 2, scope: 253 }],
    }));
    assert.deepEqual(summarize(problems(f)), ['fail config.network-overlap']);
    const r = resultOf('config.network-overlap', f);
    assert.equal(r.saw, 'Network 10.244.0.0/16 overlaps 10.244.250.1/24 on eth0');
    assert.match(r.fix ?? '', /choose a Network that no host network uses, in the etcd key \/coreos\.com\/network\/config/);
  });
});
