/**
 * KubeSubnetManager.renewLease after someone changed this node's Node object, against the
 * in-suite fake API server over real HTTP (no root needed): removed annotations are published
 * again; a podCIDR changed or removed is a lost lease (E_LEASE_LOST).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndoLog } from '../../src/async/index.ts';
import { parseNetworkConfig } from '../../src/config/index.ts';
import { IPAddress } from '../../src/ip/index.ts';
import type { LeaseAttrs } from '../../src/lease/index.ts';
import { createMemoryLogger } from '../../src/log/index.ts';
import { KubeSubnetManager } from '../../src/subnet/kube/index.ts';
import { FakeKubeApiServer, type JsonObject } from '../harness/kube-api-server.ts';

const P = 'flannel.alpha.coreos.com';
const NETCONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };
const attrs: LeaseAttrs = { publicIP: IPAddress.parse('192.168.50.11'), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:01' } };
const annotationsOf = (n: JsonObject | undefined): Record<string, string> => (n?.metadata as { annotations: Record<string, string> }).annotations;

describe('KubeSubnetManager: repairing the own lease', () => {
  let srv: FakeKubeApiServer;
  let dir: string;
  let manager: KubeSubnetManager;
  const log = createMemoryLogger();
  const signal = (): AbortSignal => AbortSignal.timeout(15_000);

  before(async () => {
    srv = await FakeKubeApiServer.start();
    dir = mkdtempSync(join(tmpdir(), 'flt-kube-repair-'));
    writeFileSync(join(dir, 'net-conf.json'), JSON.stringify(NETCONF));
    writeFileSync(
      join(dir, 'kubeconfig'),
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${srv.url}\nusers:\n- name: flannel\n  user:\n    token: ${srv.token}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: flannel}\ncurrent-context: fake\n`,
    );
    manager = new KubeSubnetManager({ kubeconfigFile: join(dir, 'kubeconfig'), netConfigPath: join(dir, 'net-conf.json'), env: { NODE_NAME: 'node1' }, log });
  });
  after(async () => {
    await manager?.close();
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a failed start-up takes its annotations back, and keeps those that were there before', async () => {
    srv.addNode({ name: 'node1', podCIDRs: ['10.244.3.0/24'], annotations: { 'example.com/keep': 'yes', [`${P}/public-ip`]: '192.168.50.99' } });
    const before = annotationsOf(srv.node('node1'));
    const config = parseNetworkConfig(JSON.stringify(NETCONF));
    const undo = new UndoLog();
    await manager.acquireLease({ config, attrs, undo, signal: signal() });
    assert.equal(annotationsOf(srv.node('node1'))[`${P}/kube-subnet-manager`], 'true');
    assert.deepEqual((await undo.unwind(signal())).undone, ['restore the annotations of node node1']);
    assert.deepEqual(annotationsOf(srv.node('node1')), before);
    assert.equal(before['example.com/keep'], 'yes');
    srv.deleteNode('node1');
  });

  it('publishes removed annotations again, then reports a changed and a removed podCIDR as lost', async () => {
    srv.addNode({ name: 'node1', podCIDRs: ['10.244.3.0/24'] });
    const config = parseNetworkConfig(JSON.stringify(NETCONF));
    const lease = await manager.acquireLease({ config, attrs, signal: signal() });
    const published = annotationsOf(srv.node('node1'));
    assert.equal(published[`${P}/public-ip`], '192.168.50.11');

    srv.setAnnotations('node1', { [`${P}/public-ip`]: null, [`${P}/backend-data`]: null });
    const repaired = await manager.renewLease(lease, signal());
    assert.equal(repaired.subnet?.toString(), '10.244.3.0/24');
    assert.deepEqual(annotationsOf(srv.node('node1')), published);
    assert.ok(
      log.lines.some((l) => l.level === 'warn' && l.msg === `annotations of node node1 were removed or changed by someone (${P}/backend-data, ${P}/public-ip); published them again`),
      JSON.stringify(log.lines.map((l) => l.msg)),
    );

    const patchesBefore = srv.requests.filter((r) => r.method === 'PATCH').length;
    await manager.renewLease(repaired, signal());
    assert.equal(srv.requests.filter((r) => r.method === 'PATCH').length, patchesBefore, 'an intact node is not patched');

    srv.setPodCIDRs('node1', ['10.244.9.0/24']);
    await assert.rejects(manager.renewLease(repaired, signal()), {
      code: 'E_LEASE_LOST',
      message: "node node1's IPv4 podCIDR is now 10.244.9.0/24, but this node's pods use 10.244.3.0/24",
    });
    srv.setPodCIDRs('node1', []);
    await assert.rejects(manager.renewLease(repaired, signal()), {
      code: 'E_LEASE_LOST',
      message: "node node1's IPv4 podCIDR is gone, but this node's pods use 10.244.3.0/24",
    });
  });
});
