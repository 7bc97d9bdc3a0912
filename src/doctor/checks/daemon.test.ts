/** flanneld.*, subnetenv.file, datastore.reachable, lease.own, leases.*: one broken fact each. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from '../../lease/index.ts';
import type { NodeFacts } from '../facts.ts';
import { cidr, healthyFacts, ip, problems, resultOf, summarize } from '../testing/facts.ts';

function withLeases(f: NodeFacts, change: (ls: Lease[]) => Lease[]): NodeFacts {
  const ls = 'value' in f.datastore.leases ? [...f.datastore.leases.value] : [];
  return { ...f, datastore: { ...f.datastore, leases: { value: change(ls) } } };
}

const isOwn = (l: Lease): boolean => l.subnet?.equals(cidr('10.244.1.0/24')) === true;

describe('flanneld', () => {
  it('two flanneld processes: warn naming the pids', () => {
    const base = healthyFacts();
    const f = { ...base, flanneld: { ...base.flanneld, processes: [...base.flanneld.processes, { pid: 999, argv: ['flanneld'] }] } };
    assert.deepEqual(summarize(problems(f)), ['warn flanneld.process']);
    assert.match(resultOf('flanneld.process', f).fix ?? '', /^keep one: kill 999/);
  });

  it('running but not ready: fail with the /readyz body', () => {
    const base = healthyFacts();
    const f = { ...base, flanneld: { ...base.flanneld, healthz: { url: 'http://127.0.0.1:8081', healthz: { status: 200, body: 'ok' }, readyz: { status: 503, body: 'waiting for etcd' } } } };
    assert.deepEqual(summarize(problems(f)), ['fail flanneld.health']);
    assert.match(resultOf('flanneld.health', f).saw, /\/readyz: 503 waiting for etcd/);
  });

  it('no --healthz-port: health skipped', () => {
    const base = healthyFacts();
    const { healthz: _h, ...rest } = base.flanneld;
    assert.equal(resultOf('flanneld.health', { ...base, flanneld: rest }).status, 'skip');
  });

  it('kube mode: the fix restarts the DaemonSet pod of this node', () => {
    const base = healthyFacts({ mode: 'kube' });
    const f = { ...base, flanneld: { processes: [] } };
    assert.match(resultOf('flanneld.process', f).fix ?? '', /kubectl -n kube-flannel delete pod --field-selector spec\.nodeName=node1 -l app=flannel/);
  });
});

describe('subnetenv.file', () => {
  it('missing: fail naming the file, and the checks that need it skip', () => {
    const base = healthyFacts();
    const f = { ...base, subnetEnv: { error: 'ENOENT: no such file or directory', path: '/run/flannel/subnet.env' } };
    assert.deepEqual(summarize(problems(f)), ['fail subnetenv.file']);
    assert.match(resultOf('subnetenv.file', f).saw, /^cannot read \/run\/flannel\/subnet\.env: ENOENT/);
    assert.equal(resultOf('lease.own', f).status, 'skip');
    assert.equal(resultOf('mtu.pods', f).status, 'skip');
    assert.equal(resultOf('cni.bridge-address', f).status, 'skip');
  });

  it('FLANNEL_NETWORK other than the config Network: fail, restart rewrites it', () => {
    const base = healthyFacts();
    const env = 'value' in base.subnetEnv ? base.subnetEnv.value : undefined;
    const f = { ...base, subnetEnv: { value: { ...env, mtu: 1450, ipMasq: true, network: cidr('10.200.0.0/16'), subnet: cidr('10.200.1.0/24') }, path: base.subnetEnv.path } };
    const r = resultOf('subnetenv.file', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /FLANNEL_NETWORK is 10\.200\.0\.0\/16 but the config's Network is 10\.244\.0\.0\/16/);
    assert.match(r.fix ?? '', /it rewrites \/run\/flannel\/subnet\.env/);
  });
});

describe('datastore.reachable', () => {
  it('etcd down: fail with the etcdctl command to try', () => {
    const base = healthyFacts();
    const f = { ...base, datastore: { ...base.datastore, config: { error: 'connect ECONNREFUSED 192.168.50.2:2379' }, leases: { error: 'connect ECONNREFUSED 192.168.50.2:2379' } } };
    const r = resultOf('datastore.reachable', f);
    assert.equal(r.status, 'fail');
    assert.equal(r.fix, "check etcd answers from here: etcdctl --endpoints=http://192.168.50.2:2379 get /coreos.com/network/config (and flanneld's --etcd-* TLS flags)");
    for (const id of ['lease.own', 'leases.backend-type', 'leases.duplicates', 'dataplane.peers', 'config.network-overlap', 'kernel.backend-module']) assert.equal(resultOf(id, f).status, 'skip', id);
  });

  it('config key missing: the fix writes it', () => {
    const base = healthyFacts();
    const f = { ...base, datastore: { ...base.datastore, config: { error: 'key /coreos.com/network/config not found' } } };
    assert.match(resultOf('datastore.reachable', f).fix ?? '', /^write it: etcdctl put \/coreos\.com\/network\/config '\{"Network":"10\.244\.0\.0\/16"/);
  });
});

describe('lease.own', () => {
  it('no lease for the subnet of subnet.env: fail', () => {
    const f = withLeases(healthyFacts(), (ls) => ls.filter((l) => !isOwn(l)));
    assert.deepEqual(summarize(problems(f)), ['fail lease.own']);
    assert.match(resultOf('lease.own', f).saw, /no lease for 10\.244\.1\.0\/24 \(subnet\.env\) among 2 lease\(s\) \(etcd key \/coreos\.com\/network\/subnets\/10\.244\.1\.0-24\)/);
  });

  it('expired: fail', () => {
    const f = withLeases(healthyFacts(), (ls) => ls.map((l) => (isOwn(l) ? { ...l, expiration: new Date('2020-01-01T00:00:00Z') } : l)));
    assert.deepEqual(summarize(problems(f)), ['fail lease.own']);
    assert.match(resultOf('lease.own', f).saw, /expired at 2020-01-01T00:00:00\.000Z/);
  });

  it("PublicIP that is not this node's: fail (another node's lease)", () => {
    const f = withLeases(healthyFacts(), (ls) => ls.map((l) => (isOwn(l) ? { ...l, attrs: { ...l.attrs, publicIP: ip('192.168.50.99') } } : l)));
    const r = resultOf('lease.own', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /its PublicIP 192\.168\.50\.99 is no address of this node/);
  });

  it('a reservation (no TTL) is fine', () => {
    const f = withLeases(healthyFacts(), (ls) => ls.map((l) => (isOwn(l) ? { subnet: l.subnet, attrs: l.attrs } as Lease : l)));
    assert.equal(resultOf('lease.own', f).status, 'ok');
    assert.match(resultOf('lease.own', f).saw, /reservation/);
  });
});

describe('leases', () => {
  it('a peer on another backend: leases.backend-type fails, the data plane does not double-report', () => {
    const f = withLeases(healthyFacts(), (ls) => ls.map((l) => (l.subnet?.equals(cidr('10.244.3.0/24')) ? { ...l, attrs: { publicIP: l.attrs.publicIP, backendType: 'host-gw' } } : l)));
    assert.deepEqual(summarize(problems(f)), ['fail leases.backend-type', 'warn dataplane.stale']);
    assert.match(resultOf('leases.backend-type', f).saw, /10\.244\.3\.0\/24 via 192\.168\.50\.13 uses host-gw/);
  });

  it('cloned VMs: same PublicIP and VtepMAC in two leases', () => {
    const f = withLeases(healthyFacts(), (ls) => ls.map((l) => (l.subnet?.equals(cidr('10.244.3.0/24')) ? { ...l, attrs: { ...l.attrs, publicIP: ip('192.168.50.12'), backendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:02' } } } : l)));
    const r = resultOf('leases.duplicates', f);
    assert.equal(r.status, 'fail');
    assert.equal(r.saw, 'PublicIP 192.168.50.12 in 2 leases (10.244.2.0/24, 10.244.3.0/24); VtepMAC 0a:00:00:00:00:02 in 2 leases (10.244.2.0/24, 10.244.3.0/24)');
    assert.match(r.fix ?? '', /--iface=<nic> or --public-ip=<address>/);
  });
});
