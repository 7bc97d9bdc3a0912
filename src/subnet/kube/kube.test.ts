import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../errors/index.ts';
import { IPAddress } from '../../ip/index.ts';
import type { Lease } from '../../lease/index.ts';
import { silentLogger } from '../../log/index.ts';
import type { NodeView } from './api.ts';
import { annotationChanges, annotationNames, desiredAnnotations } from './annotations.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { LeaseFeed } from './lease-feed.ts';
import { flannelIsUp, kubeTime } from './network-ready.ts';
import { NodeLeaseCache } from './node-cache.ts';
import { createMemoryLogger } from '../../log/index.ts';
import { nodeToLease, podCidrsOf } from './node-lease.ts';
import { eventQueueDepth, nodeIdentity } from './options.ts';
import { parseNode } from './schema.ts';

const names = annotationNames();
const P = 'flannel.alpha.coreos.com';
const node = (o: Partial<NodeView> & { name: string }): NodeView => ({ resourceVersion: '1', annotations: {}, podCIDRs: [], ...o });
const upstream = (ip: string, mac = 'e6:7c:02:8e:e8:7e'): Record<string, string> => ({
  [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}`,
  [`${P}/backend-type`]: 'vxlan',
  [`${P}/kube-subnet-manager`]: 'true',
  [`${P}/public-ip`]: ip,
});

describe('kube annotation names', () => {
  it('follow upstream prefix rules', () => {
    assert.equal(annotationNames().backendData, 'flannel.alpha.coreos.com/backend-data');
    assert.equal(annotationNames('example.com/flannel').publicIP, 'example.com/flannel-public-ip');
    assert.equal(annotationNames('example.com/flannel-').kubeSubnetManager, 'example.com/flannel-kube-subnet-manager');
    assert.equal(annotationNames('example.com/').publicIPv6Overwrite, 'example.com/public-ipv6-overwrite');
    assert.throws(() => annotationNames('a/b/c'), (e: unknown) => e instanceof ConfigError && /at most one/.test(e.message));
    assert.throws(() => annotationNames('Not_A_Domain'), ConfigError);
  });

  it('desired annotations: "null" backend data, v4/v6 by family, diff against the node', () => {
    const attrs = { publicIP: IPAddress.parse('192.0.2.1'), backendType: 'host-gw' };
    const want = desiredAnnotations(names, attrs, { v4: true, v6: false });
    assert.deepEqual(want, { [`${P}/backend-type`]: 'host-gw', [`${P}/backend-data`]: 'null', [`${P}/public-ip`]: '192.0.2.1', [`${P}/kube-subnet-manager`]: 'true' });
    assert.deepEqual(annotationChanges(want, want), {});
    assert.deepEqual(annotationChanges({ ...want, [`${P}/public-ip`]: '192.0.2.9' }, want), { [`${P}/public-ip`]: '192.0.2.1' });
  });
});

describe('kube nodes as leases', () => {
  it('splits podCIDRs by family and rejects bad ones', () => {
    assert.deepEqual(Object.keys((podCidrsOf(node({ name: 'a', podCIDRs: ['10.244.1.0/24', 'fd00::/64'] })) as { cidrs: object }).cidrs), ['v4', 'v6']);
    assert.match((podCidrsOf(node({ name: 'a', podCIDRs: ['10.0.0.0/24', '10.0.1.0/24'] })) as { problem: string }).problem, /two IPv4 podCIDRs/);
    assert.match((podCidrsOf(node({ name: 'a', podCIDRs: ['x'] })) as { problem: string }).problem, /invalid podCIDR "x"/);
    assert.match((podCidrsOf(node({ name: 'a', podCIDRs: ['10.0.0.0/24', 'fd00::/64', '10.1.0.0/24'] })) as { problem: string }).problem, /has 3 podCIDRs/);
  });

  it('reads podCIDR when podCIDRs is absent (older API servers)', () => {
    const p = parseNode({ metadata: { name: 'old', resourceVersion: '7' }, spec: { podCIDR: '10.244.5.0/24' } });
    assert.ok('node' in p);
    assert.deepEqual(p.node.podCIDRs, ['10.244.5.0/24']);
    assert.ok('problem' in parseNode({ metadata: {} }));
  });

  it('turns an upstream-annotated node into a lease, and says why others are not', () => {
    const r = nodeToLease(node({ name: 'u', podCIDRs: ['10.244.9.0/24'], annotations: upstream('192.168.1.9') }), names, { v4: true, v6: false });
    assert.ok('lease' in r);
    assert.equal(r.lease.subnet?.toString(), '10.244.9.0/24');
    assert.deepEqual(r.lease.attrs.backendData, { VNI: 1, VtepMAC: 'e6:7c:02:8e:e8:7e' });
    assert.deepEqual(nodeToLease(node({ name: 'x' }), names, { v4: true, v6: false }), {}, 'no marker: not a flannel node, nothing to say');
    const noCidr = nodeToLease(node({ name: 'n', annotations: upstream('192.168.1.9') }), names, { v4: true, v6: false });
    assert.equal((noCidr as { problem: string }).problem, 'has no IPv4 podCIDR yet');
    const badJson = nodeToLease(node({ name: 'n', podCIDRs: ['10.244.9.0/24'], annotations: { ...upstream('192.168.1.9'), [`${P}/backend-data`]: '{' } }), names, { v4: true, v6: false });
    assert.match(String((badJson as { problem: string }).problem), /backend-data is not JSON/);
    const hostGw = nodeToLease(node({ name: 'h', podCIDRs: ['10.244.2.0/24'], annotations: { ...upstream('192.168.1.2'), [`${P}/backend-data`]: 'null', [`${P}/backend-type`]: 'host-gw' } }), names, { v4: true, v6: false });
    assert.ok('lease' in hostGw && hostGw.lease.attrs.backendData === undefined);
    // Upstream's udp backend leases with no type: the annotation is there, empty.
    const udp = nodeToLease(node({ name: 'u', podCIDRs: ['10.244.3.0/24'], annotations: { ...upstream('192.168.1.3'), [`${P}/backend-data`]: 'null', [`${P}/backend-type`]: '' } }), names, { v4: true, v6: false });
    assert.ok('lease' in udp && udp.lease.attrs.backendType === '');
    const { [`${P}/backend-type`]: _type, ...untyped } = upstream('192.168.1.4');
    assert.equal((nodeToLease(node({ name: 'n', podCIDRs: ['10.244.4.0/24'], annotations: untyped }), names, { v4: true, v6: false }) as { problem: string }).problem, `has no ${P}/backend-type annotation yet`);
  });

  it('the cache turns a subnet change into removed + added, deletion into removed', () => {
    const cache = new NodeLeaseCache(names, { v4: true, v6: false }, silentLogger);
    cache.reset([node({ name: 'a', podCIDRs: ['10.244.1.0/24'], annotations: upstream('192.168.1.1') })]);
    const moved = cache.apply({ type: 'MODIFIED', node: node({ name: 'a', podCIDRs: ['10.244.7.0/24'], annotations: upstream('192.168.1.1') }) });
    assert.deepEqual(moved.map((e) => `${e.type} ${e.lease.subnet}`), ['removed 10.244.1.0/24', 'added 10.244.7.0/24']);
    assert.deepEqual(cache.apply({ type: 'DELETED', node: node({ name: 'a' }) }).map((e) => `${e.type} ${e.lease.subnet}`), ['removed 10.244.7.0/24']);
    assert.deepEqual(cache.apply({ type: 'DELETED', node: node({ name: 'zz' }) }), []);
    assert.equal(cache.leases().length, 0);
  });

  it('warns once when a peer becomes unreadable, but only informs about a node not yet a peer', () => {
    const log = createMemoryLogger();
    const cache = new NodeLeaseCache(names, { v4: true, v6: false }, log);
    cache.reset([node({ name: 'a', podCIDRs: ['10.244.1.0/24'], annotations: upstream('192.168.1.1') }), node({ name: 'b', podCIDRs: ['10.244.2.0/24'], annotations: { ...upstream('192.168.1.2'), [`${P}/backend-data`]: '{' } })]);
    const garbled = node({ name: 'a', resourceVersion: '2', podCIDRs: ['10.244.1.0/24'], annotations: { ...upstream('192.168.1.1'), [`${P}/backend-data`]: '{' } });
    assert.deepEqual(cache.apply({ type: 'MODIFIED', node: garbled }).map((e) => `${e.type} ${e.lease.subnet}`), ['removed 10.244.1.0/24']);
    cache.apply({ type: 'MODIFIED', node: garbled });
    assert.deepEqual(
      log.lines.map((l) => `${l.level} ${l.msg}`),
      [
        `info node b is not a peer (yet): it ${P}/backend-data is not JSON (Expected property name or '}' in JSON at position 1)`,
        `warn node a is no longer a usable peer: it ${P}/backend-data is not JSON (Expected property name or '}' in JSON at position 1); its routes are removed until it is readable again`,
      ],
    );
  });
});

describe('kube lease feed', () => {
  const lease = (i: number): Lease => ({ subnet: undefined, attrs: { backendType: `t${i}` } });
  it('batches events, and collapses into a snapshot past the depth', async () => {
    let current: Lease[] = [];
    const feed = new LeaseFeed(3, () => current, silentLogger);
    const s = AbortSignal.timeout(2000);
    feed.requestSnapshot();
    assert.deepEqual(await feed.next(s), { kind: 'snapshot', leases: [] });
    feed.push([{ type: 'added', lease: lease(1) }]);
    feed.push([{ type: 'added', lease: lease(2) }]);
    const batch = await feed.next(s);
    assert.equal(batch?.kind, 'events');
    assert.equal(batch?.kind === 'events' && batch.events.length, 2);
    for (let i = 0; i < 5; i++) feed.push([{ type: 'added', lease: lease(i) }]);
    current = [lease(9)];
    assert.deepEqual(await feed.next(s), { kind: 'snapshot', leases: [lease(9)] });
    assert.equal(feed.overflows, 1);
  });

  it('ends on abort and rethrows a producer failure', async () => {
    const feed = new LeaseFeed(3, () => [], silentLogger);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    assert.equal(await feed.next(ac.signal), undefined);
    feed.fail(new Error('boom'));
    await assert.rejects(feed.next(AbortSignal.timeout(1000)), /boom/);
  });
});

describe('kube options and config', () => {
  it('EVENT_QUEUE_DEPTH and the node identity from the environment', () => {
    assert.equal(eventQueueDepth({}), 5000);
    assert.equal(eventQueueDepth({ EVENT_QUEUE_DEPTH: '10' }), 10);
    assert.equal(eventQueueDepth({ EVENT_QUEUE_DEPTH: '0' }), 5000);
    assert.throws(() => eventQueueDepth({ EVENT_QUEUE_DEPTH: 'lots' }), ConfigError);
    assert.deepEqual(nodeIdentity({ NODE_NAME: 'n1', POD_NAME: 'p' }), { name: 'n1' });
    assert.deepEqual(nodeIdentity({ POD_NAME: 'p', POD_NAMESPACE: 'ns' }), { pod: { namespace: 'ns', name: 'p' } });
    assert.throws(() => nodeIdentity({ POD_NAME: 'p' }), ConfigError);
  });

  it('kubeconfig: http servers skip TLS verification, --kube-api-url overrides, bad input is a ConfigError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flt-kc-'));
    try {
      const file = join(dir, 'kc');
      writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://10.0.0.1:6443/"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
      assert.equal(loadKubeConfig({ kubeconfigFile: file }).getCurrentCluster()?.server, 'https://10.0.0.1:6443');
      const over = loadKubeConfig({ kubeconfigFile: file, apiUrl: 'http://192.0.2.1:8080' }).getCurrentCluster();
      assert.equal(over?.server, 'http://192.0.2.1:8080');
      assert.equal(over?.skipTLSVerify, true);
      assert.equal(loadKubeConfig({ kubeconfigFile: file }).getCurrentUser()?.token, 't');
      assert.throws(() => loadKubeConfig({ kubeconfigFile: join(dir, 'missing') }), (e: unknown) => e instanceof ConfigError && /cannot load --kubeconfig-file/.test(e.message));
      assert.throws(() => loadKubeConfig({ apiUrl: 'ftp://x' }), ConfigError);
      assert.throws(() => loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } }), (e: unknown) => e instanceof ConfigError && /no service account token/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the FlannelIsUp condition uses metav1.Time (whole seconds, Z)', () => {
    assert.equal(kubeTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), '2024-01-02T03:04:05Z');
    assert.deepEqual(Object.keys(flannelIsUp(0)), ['type', 'status', 'lastHeartbeatTime', 'lastTransitionTime', 'reason', 'message']);
  });
});
