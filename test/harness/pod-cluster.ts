/**
 * The cluster a data-plane suite runs on: `Cluster.up` (nodes in network namespaces, etcd mode)
 * with one hand-made pod per node running the TCP echo server, built in the enclosing describe's
 * `before` and removed in its `after`, also when a test failed.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cidr } from '../../src/ip/index.ts';
import { Cluster, type LabNode } from '../../src/lab/cluster.ts';
import { Netns } from '../../src/lab/netns.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { addPod, ping, startEchoServer, tcpExchange, type TestPod } from './pods.ts';

export type IpJson = Array<Record<string, unknown>>;

export interface PodCluster {
  /** Set once `before` has run. */
  readonly cluster: Cluster;
  /** The pod on node `index` (1-based). */
  pod(index: number): TestPod;
  readonly pods: ReadonlyMap<number, TestPod>;
  ns(node: LabNode): Netns;
  /** The node's subnet, from its subnet.env. */
  subnetOf(node: LabNode): Cidr;
  /** `ip route show` entry for `dst` on the node. */
  routeTo(node: LabNode, dst: Cidr): Record<string, unknown> | undefined;
  /** Asserts that ICMP (`pings` echo requests) and a TCP exchange cross between the pods of every ordered pair of nodes. */
  assertEveryPairCarries(pings?: number): void;
}

export function podCluster(o: { prefix: string; netconf: Record<string, unknown>; nodes?: number }): PodCluster {
  let cluster: Cluster | undefined;
  const pods = new Map<number, TestPod>();
  const dir = mkdtempSync(join(tmpdir(), `${o.prefix}-`));
  before(async () => {
    cluster = await Cluster.up({ prefix: o.prefix, nodes: o.nodes ?? 3, netconf: o.netconf, ipMasq: true, stateDir: join(dir, 'lab') });
    for (const n of cluster.nodes) {
      const pod = addPod(n.ns, n.subnetFile, `${n.ns}-p1`, 1);
      startEchoServer(pod);
      pods.set(n.index, pod);
    }
  });
  after(() => {
    Cluster.down(o.prefix, join(dir, 'lab'));
    rmSync(dir, { recursive: true, force: true });
  });
  const ns = (n: LabNode): Netns => new Netns(n.ns);
  return {
    get cluster(): Cluster {
      if (!cluster) throw new Error('the cluster is not up (its before hook failed or has not run)');
      return cluster;
    },
    pod(index) {
      const p = pods.get(index);
      if (!p) throw new Error(`no pod on node${index}`);
      return p;
    },
    pods,
    ns,
    subnetOf: (n) => parseSubnetEnv(readFileSync(n.subnetFile, 'utf8'), n.subnetFile).subnet as Cidr,
    routeTo: (n, dst) => ns(n).ipJson<IpJson>(['route', 'show']).find((r) => r.dst === dst.toString()),
    assertEveryPairCarries(pings = 1) {
      const nodes = cluster?.nodes ?? [];
      assert.ok(nodes.length > 1, 'at least two nodes');
      for (const a of nodes) {
        for (const b of nodes) {
          if (a === b) continue;
          const [from, to] = [pods.get(a.index), pods.get(b.index)] as [TestPod, TestPod];
          ping(from, to.ip, pings);
          assert.equal(tcpExchange(from, to.ip, `${a.name}-to-${b.name}`), `echo:${a.name}-to-${b.name}`);
        }
      }
    },
  };
}
