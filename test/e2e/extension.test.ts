/**
 * The extension backend end to end (issue 14): three node namespaces, etcd, one flanneld per node
 * whose Backend is shell commands doing host-gw by hand: SubnetAddCommand `ip route replace
 * $SUBNET via $PUBLIC_IP dev eth0`, SubnetRemoveCommand `ip route del ...`. PreStartupCommand
 * prints the node's eth0 MAC, which must arrive as BackendData on the other nodes' commands'
 * stdin. Then real packets (ICMP and TCP) between pods of every node pair, and a peer that leaves
 * is routed no more.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNode } from '../../src/lab/cluster.ts';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping } from '../harness/pods.ts';
import { podCluster } from '../harness/pod-cluster.ts';
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
  const lab = podCluster({ prefix, netconf: { Network: NETWORK, Backend: BACKEND } });
  const { ns, subnetOf, routeTo } = lab;

  const macOf = (n: LabNode): string => String(ns(n).ipJson<IpJson>(['link', 'show', 'eth0'])[0]?.address);
  const peerLog = (n: LabNode): string[] => {
    const path = join(n.runDir, PEER_LOG.slice('/run/'.length));
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  };

  it('publishes PreStartupCommand\'s output as BackendData and routes every peer by SubnetAddCommand, its BackendData on stdin', async () => {
    for (const n of lab.cluster.nodes) {
      const own = subnetOf(n);
      const lease = JSON.parse(lab.cluster.etcdctl(['get', '--print-value-only', `/coreos.com/network/subnets/${own.ip}-${own.prefix}`])) as Record<string, unknown>;
      assert.deepEqual({ type: lease.BackendType, data: lease.BackendData, ip: lease.PublicIP }, { type: 'extension', data: macOf(n), ip: n.underlayIP });
      assert.equal(readFileSync(n.subnetFile, 'utf8'), `FLANNEL_NETWORK=${NETWORK}\nFLANNEL_SUBNET=${own.firstHost}/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n`);
      for (const peer of lab.cluster.nodes.filter((p) => p !== n)) {
        const ps = subnetOf(peer);
        const r = await waitFor(`${n.name}: the route to ${peer.name}'s ${ps}`, () => routeTo(n, ps) ?? false, 30_000);
        assert.deepEqual([r.gateway, r.dev], [peer.underlayIP, 'eth0'], JSON.stringify(r));
        await waitFor(`${n.name}: SubnetAddCommand logged ${peer.name}`, () => peerLog(n).includes(`add ${ps} ${peer.underlayIP} ${macOf(peer)}`), 30_000);
      }
    }
  });

  it('carries ICMP and TCP between pods on every pair of nodes', () => {
    lab.assertEveryPairCarries();
  });

  it('runs SubnetRemoveCommand on every other node for a peer that left', async () => {
    const n3 = lab.cluster.node(3);
    const gone = subnetOf(n3);
    const mac = macOf(n3);
    await lab.cluster.stopFlanneld(n3);
    lab.cluster.etcdctl(['del', `/coreos.com/network/subnets/${gone.ip}-${gone.prefix}`]);
    for (const n of lab.cluster.nodes.filter((x) => x !== n3)) {
      await waitFor(`${n.name}: SubnetRemoveCommand for ${gone}`, () => peerLog(n).includes(`del ${gone} ${n3.underlayIP} ${mac}`), 30_000);
      assert.equal(routeTo(n, gone), undefined, `${n.name} still routes ${gone}`);
    }
    ping(lab.pod(1), (lab.pod(2)).ip);
  });
});
