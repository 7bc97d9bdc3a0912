/**
 * The extension backend end to end (issue 14): three node namespaces, etcd, one flanneld per node
 * whose Backend is shell commands doing host-gw by hand: SubnetAddCommand `ip route replace
 * $SUBNET via $PUBLIC_IP dev eth0`, SubnetRemoveCommand `ip route del ...`. PreStartupCommand
 * prints the node's eth0 MAC, which must arrive as BackendData on the other nodes' commands'
 * stdin. Then real packets (ICMP and TCP) between pods of every node pair, and a peer that leaves
 * is routed no more.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type LabNode } from '../../src/lab/cluster.ts';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';
import { Cidr } from '../../src/ip/index.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { addPod, ping, startEchoServer, tcpExchange, type TestPod } from '../harness/pods.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl']);

const NETWORK = '10.244.0.0/16';
/** Per node, under its own /run: what SubnetAddCommand and SubnetRemoveCommand were told. */
const PEER_LOG = '/run/flannel/extension-peers.log';
const BACKEND = {
  Type: 'extension',
  PreStartupCommand: 'cat /sys/class/net/eth0/address',
  SubnetAddCommand: `ip route replace "$SUBNET" via "$PUBLIC_IP" dev eth0 && echo "add $SUBNET $PUBLIC_IP $(cat)" >> ${PEER_LOG}`,
  SubnetRemoveCommand: `ip route del "$SUBNET" via "$PUBLIC_IP" dev eth0 && echo "del $SUBNET $PUBLIC_IP $(cat)" >> ${PEER_LOG}`,
};

type IpJson = Array<Record<string, unknown>>;

describe('data plane: extension (host-gw done in shell)', { skip }, () => {
  const prefix = uniquePrefix('flx');
  let cluster: Cluster;
  const pods = new Map<number, TestPod>();

  const ns = (n: LabNode): Netns => new Netns(n.ns);
  const subnetOf = (n: LabNode): Cidr => parseSubnetEnv(readFileSync(n.subnetFile, 'utf8'), n.subnetFile).subnet as Cidr;
  const macOf = (n: LabNode): string => String(ns(n).ipJson<IpJson>(['link', 'show', 'eth0'])[0]?.address);
  const routeTo = (n: LabNode, dst: Cidr): Record<string, unknown> | undefined => ns(n).ipJson<IpJson>(['route', 'show']).find((r) => r.dst === dst.toString());
  const peerLog = (n: LabNode): string[] => {
    const path = join(n.runDir, PEER_LOG.slice('/run/'.length));
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  };

  before(async () => {
    cluster = await Cluster.up({
      prefix,
      nodes: 3,
      netconf: { Network: NETWORK, Backend: BACKEND },
      ipMasq: true,
      stateDir: mkdtempSync(join(tmpdir(), `${prefix}-`)),
    });
    for (const n of cluster.nodes) {
      const pod = addPod(n.ns, n.subnetFile, `${n.ns}-p1`, 1);
      startEchoServer(pod);
      pods.set(n.index, pod);
    }
  });

  after(() => {
    if (cluster) Cluster.down(prefix, cluster.spec.stateDir);
  });

  it('publishes PreStartupCommand\'s output as BackendData and routes every peer by SubnetAddCommand, its BackendData on stdin', async () => {
    for (const n of cluster.nodes) {
      const own = subnetOf(n);
      const lease = JSON.parse(cluster.etcdctl(['get', '--print-value-only', `/coreos.com/network/subnets/${own.ip}-${own.prefix}`])) as Record<string, unknown>;
      assert.deepEqual({ type: lease.BackendType, data: lease.BackendData, ip: lease.PublicIP }, { type: 'extension', data: macOf(n), ip: n.underlayIP });
      assert.equal(readFileSync(n.subnetFile, 'utf8'), `FLANNEL_NETWORK=${NETWORK}\nFLANNEL_SUBNET=${own.firstHost}/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n`);
      for (const peer of cluster.nodes.filter((p) => p !== n)) {
        const ps = subnetOf(peer);
        const r = await waitFor(`${n.name}: the route to ${peer.name}'s ${ps}`, () => routeTo(n, ps) ?? false, 30_000);
        assert.deepEqual([r.gateway, r.dev], [peer.underlayIP, 'eth0'], JSON.stringify(r));
        await waitFor(`${n.name}: SubnetAddCommand logged ${peer.name}`, () => peerLog(n).includes(`add ${ps} ${peer.underlayIP} ${macOf(peer)}`), 30_000);
      }
    }
  });

  it('carries ICMP and TCP between pods on every pair of nodes', () => {
    for (const a of cluster.nodes) {
      for (const b of cluster.nodes) {
        if (a === b) continue;
        const from = pods.get(a.index) as TestPod;
        const to = pods.get(b.index) as TestPod;
        ping(from, to.ip);
        assert.equal(tcpExchange(from, to.ip, `${a.name}-to-${b.name}`), `echo:${a.name}-to-${b.name}`);
      }
    }
  });

  it('runs SubnetRemoveCommand on every other node for a peer that left', async () => {
    const n3 = cluster.node(3);
    const gone = subnetOf(n3);
    const mac = macOf(n3);
    await cluster.stopFlanneld(n3);
    cluster.etcdctl(['del', `/coreos.com/network/subnets/${gone.ip}-${gone.prefix}`]);
    for (const n of cluster.nodes.filter((x) => x !== n3)) {
      await waitFor(`${n.name}: SubnetRemoveCommand for ${gone}`, () => peerLog(n).includes(`del ${gone} ${n3.underlayIP} ${mac}`), 30_000);
      assert.equal(routeTo(n, gone), undefined, `${n.name} still routes ${gone}`);
    }
    ping(pods.get(1) as TestPod, (pods.get(2) as TestPod).ip);
  });
});
