/**
 * Kubernetes mode end to end: the fake API server in a control-plane namespace, three flanneld
 * --kube-subnet-mgr processes in node namespaces on one switch, podCIDRs handed out by the test
 * as kube-controller-manager would. Checks the node objects, the exact vxlan kernel state, real
 * packets between hand-made pods, a node written by upstream flanneld, and node deletion.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { programArgv } from '../../src/lab/cluster.ts';
import { Machine, Netns } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { addPod, ping, startEchoServer, tcpExchange, type TestPod } from '../harness/pods.ts';
import { waitFor } from '../harness/wait.ts';
import { KubeLab, type KubeLabNode } from '../harness/kube-lab.ts';

const skip = skipUnlessPrivileged(['iptables', 'ping', 'bridge']);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const P = 'flannel.alpha.coreos.com';
const NETWORK = '10.244.0.0/16';
const UPSTREAM = { name: 'upstream-node', podCIDR: '10.244.9.0/24', publicIP: '192.168.60.99', mac: 'e6:7c:02:8e:e8:7e' };

type IpJson = Array<Record<string, unknown>>;

const podCidr = (n: KubeLabNode): string => `10.244.${n.index}.0/24`;
const gw = (cidr: string): string => cidr.split('/')[0] as string;

describe('kube subnet manager: vxlan data plane', { skip }, () => {
  const lab = new KubeLab(3);
  const pods = new Map<number, TestPod>();
  const ns = (n: KubeLabNode): Netns => new Netns(n.ns);
  const vtepMac = (n: KubeLabNode): string => String(ns(n).ipJson<IpJson>(['link', 'show', 'flannel.1'])[0]?.address);
  const routeTo = (n: KubeLabNode, dst: string): Record<string, unknown> | undefined => ns(n).ipJson<IpJson>(['route', 'show']).find((r) => r.dst === dst);
  const neighOf = (n: KubeLabNode, ip: string): Record<string, unknown> | undefined => ns(n).ipJson<IpJson>(['neigh', 'show', 'dev', 'flannel.1']).find((e) => e.dst === ip);
  const fdbOf = (n: KubeLabNode, mac: string): Record<string, unknown> | undefined =>
    (JSON.parse(ns(n).exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as IpJson).find((e) => e.mac === mac);
  const annotations = async (name: string): Promise<Record<string, string>> => ((await lab.api.node(name))?.metadata as { annotations: Record<string, string> }).annotations;

  /** The peer (subnet, VTEP MAC, underlay IP) is programmed on `n` exactly as upstream does. */
  const assertPeer = (n: KubeLabNode, peer: { cidr: string; mac: string; ip: string }): void => {
    const r = routeTo(n, peer.cidr);
    assert.ok(r, `${n.name}: no route to ${peer.cidr}`);
    assert.equal(r.dev, 'flannel.1');
    assert.equal(r.gateway, gw(peer.cidr));
    assert.ok((r.flags as string[]).includes('onlink'), JSON.stringify(r));
    const neigh = neighOf(n, gw(peer.cidr));
    assert.equal(neigh?.lladdr, peer.mac, `${n.name}: neighbour of ${gw(peer.cidr)}`);
    assert.deepEqual(neigh?.state, ['PERMANENT']);
    const fdb = fdbOf(n, peer.mac);
    assert.equal(fdb?.dst, peer.ip, `${n.name}: fdb ${peer.mac}`);
    assert.equal(fdb?.state, 'permanent');
    assert.ok((fdb?.flags as string[]).includes('self'));
  };
  const peerGone = (n: KubeLabNode, cidr: string, mac: string): boolean => routeTo(n, cidr) === undefined && neighOf(n, gw(cidr)) === undefined && fdbOf(n, mac) === undefined;

  before(async () => {
    await lab.up({ Network: NETWORK, Backend: { Type: 'vxlan' } });
    for (const n of lab.nodes) await lab.api.addNode({ name: n.name });
    for (const n of lab.nodes) lab.startFlanneld(n);
    // No podCIDR yet: every flanneld waits and says why.
    await Promise.all(lab.nodes.map((n) => n.flanneld?.waitForLine(new RegExp(`node ${n.name} has no podCIDR yet: was the cluster created with kubeadm init --pod-network-cidr=10\\.244\\.0\\.0/16\\?`), 60_000)));
    for (const n of lab.nodes) await lab.api.setPodCIDRs(n.name, [podCidr(n)]);
    await Promise.all(lab.nodes.map((n) => n.flanneld?.waitForLine(/set condition NetworkUnavailable=False \(FlannelIsUp\)/, 60_000)));
    for (const n of lab.nodes) {
      const pod = addPod(n.ns, n.subnetFile, `${n.ns}-p1`, 1);
      startEchoServer(pod);
      pods.set(n.index, pod);
    }
  });

  after(async () => {
    if (process.env.FLANNEL_E2E_LOGS === '1') for (const n of lab.nodes) console.log(`--- flanneld ${n.name}\n${n.flanneld?.output() ?? '(not started)'}`);
    await lab.down();
  });

  it('publishes upstream annotations and the FlannelIsUp condition on every node object', async () => {
    for (const n of lab.nodes) {
      const node = await lab.api.node(n.name);
      const a = (node?.metadata as { annotations: Record<string, string> }).annotations;
      assert.equal(a[`${P}/backend-type`], 'vxlan');
      assert.equal(a[`${P}/backend-data`], `{"VNI":1,"VtepMAC":"${vtepMac(n)}"}`);
      assert.equal(a[`${P}/kube-subnet-manager`], 'true');
      assert.equal(a[`${P}/public-ip`], n.underlayIP);
      const cond = (node?.status as { conditions: Array<Record<string, string>> }).conditions.find((c) => c.type === 'NetworkUnavailable');
      assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['False', 'FlannelIsUp', 'Flannel is running on this node']);
      assert.equal(readFileSync(n.subnetFile, 'utf8'), `FLANNEL_NETWORK=${NETWORK}\nFLANNEL_SUBNET=10.244.${n.index}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    }
  });

  it('programs vxlan routes, neighbours and fdb entries for every peer', async () => {
    for (const n of lab.nodes) {
      for (const peer of lab.nodes.filter((p) => p !== n)) {
        await waitFor(`${n.name}: route to ${peer.name}`, () => routeTo(n, podCidr(peer)) !== undefined, 10_000);
        assertPeer(n, { cidr: podCidr(peer), mac: vtepMac(peer), ip: peer.underlayIP });
      }
    }
  });

  it('carries ICMP and TCP between pods on every pair of nodes', () => {
    for (const a of lab.nodes) {
      for (const b of lab.nodes) {
        if (a === b) continue;
        const from = pods.get(a.index) as TestPod;
        const to = pods.get(b.index) as TestPod;
        ping(from, to.ip);
        assert.equal(tcpExchange(from, to.ip, `${a.name}-to-${b.name}`), `echo:${a.name}-to-${b.name}`);
      }
    }
  });

  it('flannel-ts doctor on a node reads kube mode from the running flanneld: the API, the node\'s podCIDR, its lease and every peer', () => {
    const n = lab.nodes[0] as KubeLabNode;
    const [cmd = process.execPath, ...args] = programArgv('flannel-ts');
    const confDir = join(lab.dir, 'cni-net.d'); // empty: these nodes have no CNI installed (their pods are made by hand)
    mkdirSync(confDir, { recursive: true });
    const [ip = 'ip', ...rest] = new Machine(n.ns, n.runDir).argv(cmd, [...args, 'doctor', '--json', '--cni-conf-dir', confDir]);
    const r = spawnSync(ip, rest, { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
    const report = JSON.parse(r.stdout) as { results: Array<{ id: string; status: string; saw: string }> };
    const result = (id: string): { status: string; saw: string } | undefined => report.results.find((x) => x.id === id);
    assert.equal(result('datastore.reachable')?.status, 'ok', r.stdout);
    assert.match(result('datastore.reachable')?.saw ?? '', new RegExp(`^the Kubernetes API ${lab.apiUrl.replaceAll('.', '\\.')}`));
    assert.equal(result('config.pod-cidr')?.status, 'ok', r.stdout);
    assert.match(result('config.pod-cidr')?.saw ?? '', new RegExp(podCidr(n).replaceAll('.', '\\.')));
    for (const id of ['flanneld.process', 'subnetenv.file', 'lease.own', 'leases.backend-type', 'leases.duplicates', 'dataplane.device', 'dataplane.peers', 'dataplane.stale', 'mtu.device']) {
      assert.equal(result(id)?.status, 'ok', `${id}: ${JSON.stringify(result(id))}`);
    }
    // Only the missing CNI configuration fails, as it should on a node without one.
    assert.deepEqual(report.results.filter((x) => x.status === 'fail').map((x) => x.id), ['cni.conflist'], r.stdout);
  });

  it('programs a node annotated by upstream flanneld as a peer', async () => {
    await lab.api.addNode({
      name: UPSTREAM.name,
      podCIDRs: [UPSTREAM.podCIDR],
      annotations: {
        [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${UPSTREAM.mac}"}`,
        [`${P}/backend-type`]: 'vxlan',
        [`${P}/kube-subnet-manager`]: 'true',
        [`${P}/public-ip`]: UPSTREAM.publicIP,
      },
    });
    for (const n of lab.nodes) {
      await waitFor(`${n.name}: route to ${UPSTREAM.podCIDR}`, () => routeTo(n, UPSTREAM.podCIDR) !== undefined, 10_000);
      assertPeer(n, { cidr: UPSTREAM.podCIDR, mac: UPSTREAM.mac, ip: UPSTREAM.publicIP });
    }
  });

  it('removes a deleted node object from every other node', async () => {
    const [n1, n2, n3] = lab.nodes as [KubeLabNode, KubeLabNode, KubeLabNode];
    const mac3 = vtepMac(n3);
    await n3.flanneld?.stop();
    await lab.api.deleteNode(n3.name);
    await lab.api.deleteNode(UPSTREAM.name);
    for (const n of [n1, n2]) {
      await waitFor(`${n.name} to drop ${n3.name}`, () => peerGone(n, podCidr(n3), mac3), 10_000);
      await waitFor(`${n.name} to drop ${UPSTREAM.name}`, () => peerGone(n, UPSTREAM.podCIDR, UPSTREAM.mac), 10_000);
    }
    // The remaining pair still talks.
    ping(pods.get(1) as TestPod, (pods.get(2) as TestPod).ip);
    assert.equal((await annotations(n1.name))[`${P}/kube-subnet-manager`], 'true');
  });
});
