/**
 * KubeSubnetManager against the in-suite fake API server over real HTTP (no root needed),
 * through the real @kubernetes/client-node: upstream's annotation and condition formats byte for
 * byte, the podCIDR wait, overwrites, peers written by upstream flanneld, and watch recovery
 * (cut streams, 410 Gone, an API outage) ending in the exact peer set.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkConfig } from '../../src/config/index.ts';
import { ConfigError, DatastoreError } from '../../src/errors/index.ts';
import { IPAddress } from '../../src/ip/index.ts';
import { describeLease, LeaseWatcher, type Lease, type LeaseAttrs, type LeaseEvent } from '../../src/lease/index.ts';
import { createMemoryLogger, type MemoryLogger } from '../../src/log/index.ts';
import { KubeSubnetManager, type KubeSubnetManagerOptions } from '../../src/subnet/kube/index.ts';
import { FakeKubeApiServer, type JsonObject } from '../harness/kube-api-server.ts';
import { FLANNELD_ENTRY } from '../harness/flanneld.ts';
import { waitFor } from '../harness/wait.ts';

const P = 'flannel.alpha.coreos.com';
const NETWORK = '10.244.0.0/16';
const MAC = 'aa:bb:cc:dd:ee:01';
const UPSTREAM_MAC = 'e6:7c:02:8e:e8:7e';
const FAST = { podCidrPollMs: 25, podCidrWarnMs: 150, retryInitialMs: 20, retryMaxMs: 200 };

const vxlanAttrs = (ip: string, mac = MAC): LeaseAttrs => ({ publicIP: IPAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } });

/** Annotations exactly as upstream flanneld writes them for a vxlan node. */
const upstreamAnnotations = (ip: string, mac: string): Record<string, string> => ({
  [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}`,
  [`${P}/backend-type`]: 'vxlan',
  [`${P}/kube-subnet-manager`]: 'true',
  [`${P}/public-ip`]: ip,
});

interface Env {
  srv: FakeKubeApiServer;
  dir: string;
  log: MemoryLogger;
  netConfPath: string;
  kubeconfig: string;
  make(o?: Partial<KubeSubnetManagerOptions>): KubeSubnetManager;
}

function writeKubeconfig(path: string, server: string, token: string): void {
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${server}`,
      'users:',
      '- name: flannel',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: fake',
      '  context: {cluster: fake, user: flannel}',
      'current-context: fake',
      '',
    ].join('\n'),
  );
}

const cleanups: Array<() => Promise<void> | void> = [];

async function setup(netconf: object = { Network: NETWORK, Backend: { Type: 'vxlan' } }): Promise<Env> {
  const srv = await FakeKubeApiServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'flt-kube-'));
  const netConfPath = join(dir, 'net-conf.json');
  writeFileSync(netConfPath, JSON.stringify(netconf));
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, srv.url, srv.token);
  const log = createMemoryLogger();
  const managers: KubeSubnetManager[] = [];
  cleanups.push(async () => {
    for (const m of managers) await m.close();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    srv,
    dir,
    log,
    netConfPath,
    kubeconfig,
    make(o = {}) {
      const m = new KubeSubnetManager({ kubeconfigFile: kubeconfig, netConfigPath: netConfPath, env: { NODE_NAME: 'node1' }, log, timings: FAST, ...o });
      managers.push(m);
      return m;
    },
  };
}

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const signal = (): AbortSignal => AbortSignal.timeout(15_000);
const annotationsOf = (n: JsonObject | undefined): Record<string, string> => (n?.metadata as { annotations: Record<string, string> }).annotations;
const patches = (srv: FakeKubeApiServer) => srv.requests.filter((r) => r.method === 'PATCH');
const flannelOnly = (a: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith(`${P}/`)));

/** Follows watchLeases through a LeaseWatcher, as the daemon does. */
class Observer {
  readonly watcher = new LeaseWatcher();
  readonly events: LeaseEvent[] = [];
  snapshots = 0;
  readonly #ac = new AbortController();
  readonly done: Promise<void>;

  constructor(sm: KubeSubnetManager) {
    this.done = (async () => {
      for await (const r of sm.watchLeases(this.#ac.signal)) {
        if (r.kind === 'snapshot') {
          this.snapshots++;
          this.events.push(...this.watcher.reset(r.leases));
        } else {
          this.events.push(...this.watcher.update(r.events));
        }
      }
    })();
    cleanups.push(() => this.stop());
  }

  /** "subnet via ip" of every peer, sorted. */
  peers(): string[] {
    return this.watcher.peers.map(describeLease).sort();
  }

  async waitPeers(want: string[], what: string): Promise<void> {
    const sorted = [...want].sort();
    await waitFor(what, () => JSON.stringify(this.peers()) === JSON.stringify(sorted), 10_000, 20).catch((err: Error) => {
      throw new Error(`${err.message}; peers now: ${JSON.stringify(this.peers())}`);
    });
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await this.done;
  }
}

describe('KubeSubnetManager: network config', () => {
  it('reads net-conf.json from --net-config-path', async () => {
    const env = await setup({ Network: NETWORK, Backend: { Type: 'host-gw' } });
    const config = await env.make().getNetworkConfig(signal());
    assert.equal(config.v4?.network.toString(), NETWORK);
    assert.equal(config.backend.type, 'host-gw');
  });

  it('a missing file is a ConfigError pointing at the kube-flannel-cfg ConfigMap', async () => {
    const env = await setup();
    const sm = env.make({ netConfigPath: join(env.dir, 'nope.json') });
    await assert.rejects(sm.getNetworkConfig(signal()), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cannot read the network configuration .*nope\.json: the file does not exist/);
      assert.match(String(err.hint), /kube-flannel-cfg ConfigMap/);
      return true;
    });
  });
});

describe('KubeSubnetManager: acquiring the node lease', () => {
  let config: NetworkConfig;

  it('waits while the node has no podCIDR, saying how to fix it, then proceeds', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1' });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    let settled = false;
    const acquiring = sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() }).finally(() => (settled = true));
    const line = `node node1 has no podCIDR yet: was the cluster created with kubeadm init --pod-network-cidr=${NETWORK}? (or kube-controller-manager --allocate-node-cidrs)`;
    await waitFor('the podCIDR warning', () => env.log.lines.filter((l) => l.level === 'warn' && l.msg === line).length >= 2, 5000, 20);
    assert.equal(settled, false);
    assert.equal(patches(env.srv).length, 0, 'nothing is published before there is a podCIDR');
    env.srv.setPodCIDRs('node1', ['10.244.1.0/24']);
    const lease = await acquiring;
    assert.equal(lease.subnet?.toString(), '10.244.1.0/24');
    assert.equal(lease.ipv6Subnet, undefined);
    assert.equal(lease.attrs.publicIP?.toString(), '192.0.2.1');
    assert.ok((lease.expiration?.getTime() ?? 0) > Date.now() + 100 * 365 * 86400_000, 'kube leases do not expire');
    const patchesBefore = patches(env.srv).length;
    assert.deepEqual(await sm.renewLease(lease, signal()), lease, 'renewing an intact node lease changes nothing');
    assert.equal(patches(env.srv).length, patchesBefore);
  });

  it('publishes upstream annotations with one strategic-merge patch on nodes/status, and none when already right', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.1.0/24'] });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() });
    const [patch, ...more] = patches(env.srv);
    assert.equal(more.length, 0);
    assert.equal(patch?.path, '/api/v1/nodes/node1/status');
    assert.equal(patch?.contentType, 'application/strategic-merge-patch+json');
    assert.equal(
      JSON.stringify(patch?.body),
      `{"metadata":{"annotations":{"${P}/backend-type":"vxlan","${P}/backend-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"${MAC}\\"}","${P}/public-ip":"192.0.2.1","${P}/kube-subnet-manager":"true"}}}`,
    );
    assert.deepEqual(flannelOnly(annotationsOf(env.srv.node('node1'))), {
      [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${MAC}"}`,
      [`${P}/backend-type`]: 'vxlan',
      [`${P}/kube-subnet-manager`]: 'true',
      [`${P}/public-ip`]: '192.0.2.1',
    });
    assert.equal(annotationsOf(env.srv.node('node1'))['node.alpha.kubernetes.io/ttl'], '0', "others' annotations are kept");

    // A restart with the same attributes changes nothing.
    await env.make().acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() });
    assert.equal(patches(env.srv).length, 1);
    // The stored VtepMAC is offered back to the backend.
    assert.deepEqual(await env.make().storedBackendData(signal()), { v4: { VNI: 1, VtepMAC: MAC } });
  });

  it('writes backend-data "null" for a backend without data (host-gw)', async () => {
    const env = await setup({ Network: NETWORK, Backend: { Type: 'host-gw' } });
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.3.0/24'] });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    await sm.acquireLease({ config, attrs: { publicIP: IPAddress.parse('192.0.2.3'), backendType: 'host-gw' }, signal: signal() });
    assert.deepEqual(flannelOnly(annotationsOf(env.srv.node('node1'))), {
      [`${P}/backend-data`]: 'null',
      [`${P}/backend-type`]: 'host-gw',
      [`${P}/kube-subnet-manager`]: 'true',
      [`${P}/public-ip`]: '192.0.2.3',
    });
  });

  it('publishes the v6 annotations for a dual-stack node', async () => {
    const env = await setup({ Network: NETWORK, IPv6Network: 'fd00:10:244::/56', EnableIPv6: true, Backend: { Type: 'vxlan' } });
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.4.0/24', 'fd00:10:244:4::/64'] });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({
      config,
      attrs: { ...vxlanAttrs('192.0.2.4'), publicIPv6: IPAddress.parse('2001:db8::4'), backendV6Data: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:06' } },
      signal: signal(),
    });
    assert.equal(lease.subnet?.toString(), '10.244.4.0/24');
    assert.equal(lease.ipv6Subnet?.toString(), 'fd00:10:244:4::/64');
    const a = flannelOnly(annotationsOf(env.srv.node('node1')));
    assert.equal(a[`${P}/backend-v6-data`], '{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:06"}');
    assert.equal(a[`${P}/public-ipv6`], '2001:db8::4');
  });

  it('honours public-ip-overwrite: published as public-ip and used as the lease PublicIP', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.5.0/24'], annotations: { [`${P}/public-ip-overwrite`]: '203.0.113.7' } });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.5'), signal: signal() });
    assert.equal(lease.attrs.publicIP?.toString(), '203.0.113.7');
    assert.equal(annotationsOf(env.srv.node('node1'))[`${P}/public-ip`], '203.0.113.7');
    assert.ok(env.log.lines.some((l) => l.msg === `Overriding public ip with '203.0.113.7' from node annotation '${P}/public-ip-overwrite'`));
  });

  it('rejects a podCIDR outside the configured Network, naming both', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.99.1.0/24'] });
    const sm = env.make();
    config = await sm.getNetworkConfig(signal());
    await assert.rejects(sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'E_KUBE_PODCIDR_OUTSIDE');
      assert.equal(err.message, "node node1's podCIDR 10.99.1.0/24 is outside the flannel Network 10.244.0.0/16");
      assert.match(String(err.hint), /--pod-network-cidr/);
      return true;
    });
    assert.equal(patches(env.srv).length, 0);
  });

  it('finds its node through POD_NAME and POD_NAMESPACE', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'worker-7', podCIDRs: ['10.244.7.0/24'] });
    env.srv.addPod('kube-flannel', 'kube-flannel-ds-abcde', 'worker-7');
    const sm = env.make({ env: { POD_NAME: 'kube-flannel-ds-abcde', POD_NAMESPACE: 'kube-flannel' } });
    config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.7'), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.244.7.0/24');
    assert.equal(annotationsOf(env.srv.node('worker-7'))[`${P}/kube-subnet-manager`], 'true');
  });

  it('without NODE_NAME or POD_NAME/POD_NAMESPACE: a ConfigError at construction', async () => {
    const env = await setup();
    assert.throws(() => env.make({ env: {} }), (err: unknown) => err instanceof ConfigError && /NODE_NAME is not set/.test(err.message) && /downward API/.test(String(err.hint)));
  });
});

describe('KubeSubnetManager: NetworkUnavailable condition', () => {
  it('sets NetworkUnavailable=False (FlannelIsUp) on nodes/status in upstream format', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.1.0/24'] });
    const sm = env.make();
    const config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() });
    await sm.networkReady(lease, signal());
    const patch = patches(env.srv).at(-1);
    assert.equal(patch?.path, '/api/v1/nodes/node1/status');
    assert.equal(patch?.contentType, 'application/strategic-merge-patch+json');
    assert.match(
      JSON.stringify(patch?.body),
      /^\{"status":\{"conditions":\[\{"type":"NetworkUnavailable","status":"False","lastHeartbeatTime":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)","lastTransitionTime":"\1","reason":"FlannelIsUp","message":"Flannel is running on this node"\}\]\}\}$/,
    );
    const conditions = (env.srv.node('node1')?.status as { conditions: Array<Record<string, string>> }).conditions;
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}`),
      ['Ready=True', 'NetworkUnavailable=False'],
      'merged by type, the kubelet condition kept',
    );
  });

  it('leaves the condition alone with --set-node-network-unavailable=false', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.1.0/24'] });
    const sm = env.make({ setNodeNetworkUnavailable: false });
    const config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() });
    const before = patches(env.srv).length;
    await sm.networkReady(lease, signal());
    assert.equal(patches(env.srv).length, before);
  });
});

describe('KubeSubnetManager: peers', () => {
  it('a node annotated by upstream flanneld becomes a peer; others are ignored', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'node1', podCIDRs: ['10.244.1.0/24'] });
    env.srv.addNode({ name: 'upstream', podCIDRs: ['10.244.9.0/24'], annotations: upstreamAnnotations('192.168.1.9', UPSTREAM_MAC) });
    env.srv.addNode({ name: 'plain', podCIDRs: ['10.244.8.0/24'] });
    env.srv.addNode({ name: 'not-flannel', podCIDRs: ['10.244.10.0/24'], annotations: { ...upstreamAnnotations('192.168.1.10', UPSTREAM_MAC), [`${P}/kube-subnet-manager`]: 'false' } });
    const sm = env.make();
    await sm.getNetworkConfig(signal());
    let snapshot: Lease[] | undefined;
    for await (const r of sm.watchLeases(signal())) {
      assert.equal(r.kind, 'snapshot', 'the first result is a snapshot');
      if (r.kind === 'snapshot') snapshot = r.leases;
      break;
    }
    assert.equal(snapshot?.length, 1);
    const peer = snapshot?.[0] as Lease;
    assert.equal(peer.subnet?.toString(), '10.244.9.0/24');
    assert.equal(peer.attrs.publicIP?.toString(), '192.168.1.9');
    assert.equal(peer.attrs.backendType, 'vxlan');
    assert.deepEqual(peer.attrs.backendData, { VNI: 1, VtepMAC: UPSTREAM_MAC });
    assert.ok((peer.expiration?.getTime() ?? 0) > Date.now() + 86400_000);
  });

  it('node updates, annotation loss and deletion become added/removed events', async () => {
    const env = await setup();
    env.srv.addNode({ name: 'a', podCIDRs: ['10.244.2.0/24'], annotations: upstreamAnnotations('192.168.1.2', 'e6:7c:02:8e:e8:02') });
    env.srv.addNode({ name: 'b', podCIDRs: ['10.244.3.0/24'], annotations: upstreamAnnotations('192.168.1.3', 'e6:7c:02:8e:e8:03') });
    const sm = env.make();
    await sm.getNetworkConfig(signal());
    const obs = new Observer(sm);
    await obs.waitPeers(['10.244.2.0/24 via 192.168.1.2', '10.244.3.0/24 via 192.168.1.3'], 'the first snapshot');

    env.srv.addNode({ name: 'c' });
    env.srv.setPodCIDRs('c', ['10.244.4.0/24']);
    env.srv.setAnnotations('c', upstreamAnnotations('192.168.1.4', 'e6:7c:02:8e:e8:04'));
    await obs.waitPeers(['10.244.2.0/24 via 192.168.1.2', '10.244.3.0/24 via 192.168.1.3', '10.244.4.0/24 via 192.168.1.4'], 'c to join');

    env.srv.deleteNode('a');
    await obs.waitPeers(['10.244.3.0/24 via 192.168.1.3', '10.244.4.0/24 via 192.168.1.4'], 'a to go');
    const removed = obs.events.filter((e) => e.type === 'removed');
    assert.deepEqual(removed.map((e) => e.lease.subnet?.toString()), ['10.244.2.0/24']);
    assert.deepEqual(removed[0]?.lease.attrs.backendData, { VNI: 1, VtepMAC: 'e6:7c:02:8e:e8:02' }, 'the removal carries what the data plane must delete');

    env.srv.setAnnotations('b', { [`${P}/kube-subnet-manager`]: null });
    await obs.waitPeers(['10.244.4.0/24 via 192.168.1.4'], 'b to stop being a peer');

    env.srv.setAnnotations('c', { [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"e6:7c:02:8e:e8:44"}' });
    await waitFor('the new MAC of c', () => obs.watcher.peers.some((l) => JSON.stringify(l.attrs.backendData) === '{"VNI":1,"VtepMAC":"e6:7c:02:8e:e8:44"}'), 5000, 20);
    assert.equal(obs.snapshots, 1, 'all of that came as watch events, without re-listing');
  });

  it('recovers from a cut watch, an API outage and 410 Gone with the exact peer set', async () => {
    const env = await setup();
    for (const i of [2, 3, 4]) env.srv.addNode({ name: `n${i}`, podCIDRs: [`10.244.${i}.0/24`], annotations: upstreamAnnotations(`192.168.1.${i}`, `e6:7c:02:8e:e8:0${i}`) });
    const sm = env.make();
    await sm.getNetworkConfig(signal());
    const obs = new Observer(sm);
    await obs.waitPeers(['10.244.2.0/24 via 192.168.1.2', '10.244.3.0/24 via 192.168.1.3', '10.244.4.0/24 via 192.168.1.4'], 'the first snapshot');
    await waitFor('the watch to be open', () => env.srv.openWatches() === 1, 5000, 10);

    // Cut mid-stream, and keep the API away while nodes change.
    env.srv.setOutage(true);
    env.srv.deleteNode('n2');
    env.srv.setAnnotations('n3', { [`${P}/public-ip`]: '192.168.1.33' });
    env.srv.addNode({ name: 'n5', podCIDRs: ['10.244.5.0/24'], annotations: upstreamAnnotations('192.168.1.5', 'e6:7c:02:8e:e8:05') });
    await new Promise((r) => setTimeout(r, 150));
    env.srv.setOutage(false);
    await obs.waitPeers(['10.244.3.0/24 via 192.168.1.33', '10.244.4.0/24 via 192.168.1.4', '10.244.5.0/24 via 192.168.1.5'], 'the peers after the outage');
    assert.ok(env.log.lines.some((l) => l.level === 'warn' && /cannot list nodes|node watch broke|watch ended/.test(l.msg)), 'the break was logged');

    // 410 on an open watch (ERROR event), then on the next watch, then as HTTP 410.
    await waitFor('the watch to be open again', () => env.srv.openWatches() === 1, 5000, 10);
    const lists = (): number => env.srv.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/nodes' && r.query.watch === undefined).length;
    const listsBefore = lists();
    env.srv.goneOnNextWatches(1, 'event');
    env.srv.goneOnNextWatches(1, 'http');
    env.srv.expireWatches();
    env.srv.deleteNode('n4');
    env.srv.addNode({ name: 'n6', podCIDRs: ['10.244.6.0/24'], annotations: upstreamAnnotations('192.168.1.6', 'e6:7c:02:8e:e8:06') });
    await obs.waitPeers(['10.244.3.0/24 via 192.168.1.33', '10.244.5.0/24 via 192.168.1.5', '10.244.6.0/24 via 192.168.1.6'], 'the peers after 410s');
    await waitFor('a healthy watch again', () => env.srv.openWatches() === 1, 5000, 10);
    assert.ok(lists() >= listsBefore + 3, `each 410 leads to a re-list (${lists() - listsBefore})`);
    assert.ok(env.log.lines.some((l) => /too old \(watch ERROR 410/.test(l.msg)));
    assert.ok(env.log.lines.some((l) => /HTTP 410 Gone/.test(l.msg)));

    // Compacting the history does not disturb an open watch.
    env.srv.compact();
    env.srv.setAnnotations('n5', { [`${P}/kube-subnet-manager`]: null });
    await obs.waitPeers(['10.244.3.0/24 via 192.168.1.33', '10.244.6.0/24 via 192.168.1.6'], 'n5 to leave');

    // No phantom or duplicate along the way: the added/removed stream replays to the same set.
    const replay = new LeaseWatcher();
    replay.update(obs.events);
    assert.deepEqual(replay.peers.map(describeLease).sort(), obs.peers());
  });

  it('re-lists periodically even when the watch is healthy', async () => {
    const env = await setup();
    const sm = env.make({ timings: { ...FAST, resyncMs: 150 } });
    await sm.getNetworkConfig(signal());
    const obs = new Observer(sm);
    await waitFor('three snapshots', () => obs.snapshots >= 3, 5000, 20);
  });

  it('collapses an overflowing event queue into one snapshot (EVENT_QUEUE_DEPTH) instead of blocking the watch', async () => {
    const env = await setup();
    const sm = env.make({ env: { NODE_NAME: 'node1', EVENT_QUEUE_DEPTH: '3' } });
    await sm.getNetworkConfig(signal());
    const it = sm.watchLeases(signal())[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value?.kind, 'snapshot');
    await waitFor('the watch to be open', () => env.srv.openWatches() === 1, 5000, 10);
    for (let i = 10; i < 20; i++) env.srv.addNode({ name: `n${i}`, podCIDRs: [`10.244.${i}.0/24`], annotations: upstreamAnnotations(`192.168.1.${i}`, `e6:7c:02:8e:e8:${i}`) });
    await waitFor('the overflow warning', () => env.log.lines.some((l) => /more than 3 node events are waiting/.test(l.msg)), 5000, 10);
    const next = await it.next();
    assert.equal(next.value?.kind, 'snapshot');
    if (next.value?.kind === 'snapshot') assert.equal(next.value.leases.length, 10, 'the snapshot holds every node, nothing dropped');
    await it.return?.();
  });
});

describe('KubeSubnetManager: API access', () => {
  let srv: FakeKubeApiServer;
  let dir: string;
  before(async () => {
    srv = await FakeKubeApiServer.start();
    srv.addNode({ name: 'node1', podCIDRs: ['10.244.1.0/24'] });
    dir = mkdtempSync(join(tmpdir(), 'flt-kube-'));
    writeFileSync(join(dir, 'net-conf.json'), JSON.stringify({ Network: NETWORK, Backend: { Type: 'vxlan' } }));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a wrong token is a clear DatastoreError (401)', async () => {
    writeKubeconfig(join(dir, 'bad'), srv.url, 'wrong-token');
    const sm = new KubeSubnetManager({ kubeconfigFile: join(dir, 'bad'), netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' }, timings: FAST });
    const config = await sm.getNetworkConfig(signal());
    await assert.rejects(sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof DatastoreError, String(err));
      assert.equal(err.code, 'E_KUBE_AUTH');
      assert.equal(err.message, `the Kubernetes API at ${srv.url} rejected flanneld's credentials (HTTP 401 Unauthorized) on get node node1`);
      assert.match(String(err.hint), /token/);
      return true;
    });
  });

  it('--kube-api-url alone sends no credentials (as upstream), and overrides a kubeconfig server', async () => {
    const anon = new KubeSubnetManager({ apiUrl: srv.url, netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' } });
    await assert.rejects(anon.networkReady({ attrs: { backendType: 'vxlan' } }, signal()), (err: unknown) => err instanceof DatastoreError && err.code === 'E_KUBE_AUTH');
    writeKubeconfig(join(dir, 'elsewhere'), 'http://127.0.0.1:1', srv.token);
    const sm = new KubeSubnetManager({ apiUrl: srv.url, kubeconfigFile: join(dir, 'elsewhere'), netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' } });
    assert.equal(sm.server, srv.url);
    const config = await sm.getNetworkConfig(signal());
    const lease = await sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() });
    assert.equal(lease.subnet?.toString(), '10.244.1.0/24');
  });

  it('an unreachable API server is E_KUBE_UNAVAILABLE naming the server', async () => {
    writeKubeconfig(join(dir, 'down'), 'http://127.0.0.1:1', srv.token);
    const sm = new KubeSubnetManager({ kubeconfigFile: join(dir, 'down'), netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' } });
    const config = await sm.getNetworkConfig(signal());
    await assert.rejects(sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof DatastoreError);
      assert.equal(err.code, 'E_KUBE_UNAVAILABLE');
      assert.match(err.message, /^cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:1 \(get node node1\): .*ECONNREFUSED/);
      return true;
    });
  });

  it('a hung API server fails a request after the request deadline', async () => {
    writeKubeconfig(join(dir, 'ok'), srv.url, srv.token);
    const sm = new KubeSubnetManager({ kubeconfigFile: join(dir, 'ok'), netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' }, requestTimeoutMs: 200 });
    const config = await sm.getNetworkConfig(signal());
    srv.setHang(true);
    try {
      await assert.rejects(sm.acquireLease({ config, attrs: vxlanAttrs('192.0.2.1'), signal: signal() }), (err: unknown) => {
        assert.ok(err instanceof DatastoreError);
        assert.equal(err.code, 'E_KUBE_UNAVAILABLE');
        assert.equal(err.message, `the Kubernetes API at ${srv.url} did not answer get node node1 within 0.2 s`);
        return true;
      });
    } finally {
      srv.setHang(false);
    }
  });

  it('no kubeconfig, no api url and not in a pod: a ConfigError saying what to pass', () => {
    assert.throws(
      () => new KubeSubnetManager({ env: { NODE_NAME: 'node1' } }),
      (err: unknown) => err instanceof ConfigError && /not in a pod \(KUBERNETES_SERVICE_HOST\/PORT are not set\)/.test(err.message) && /--kubeconfig-file/.test(String(err.hint)),
    );
  });

  it('patching the node object itself would be refused by upstream RBAC: only nodes/status is used', () => {
    assert.ok(srv.requests.length > 0);
    assert.deepEqual(
      srv.requests.filter((r) => r.method === 'PATCH').map((r) => r.path).filter((p) => !p.endsWith('/status')),
      [],
    );
    assert.equal(srv.requests.filter((r) => r.status === 403).length, 0);
  });
});

describe('flanneld --kube-subnet-mgr (process)', () => {
  it('exits 1 with error and hint when it cannot tell which node it is on', () => {
    const { NODE_NAME: _n, POD_NAME: _p, POD_NAMESPACE: _ns, ...env } = process.env;
    const r = spawnSync(process.execPath, [...FLANNELD_ENTRY, '--kube-subnet-mgr', '--kube-api-url=http://127.0.0.1:1', '--subnet-file=/nonexistent/subnet.env'], { encoding: 'utf8', env, timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /flanneld: error: --kube-subnet-mgr needs to know which node it runs on: NODE_NAME is not set, nor are POD_NAME and POD_NAMESPACE/);
    assert.match(r.stderr, /flanneld: hint: set NODE_NAME/);
  });
});
