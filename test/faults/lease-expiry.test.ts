/**
 * Fault suite: a node dies (SIGKILL, so nothing is cleaned up by it) and its lease later expires
 * in etcd (revoked here instead of waiting 24 h): every other node removes its route, its
 * neighbour entry and its FDB entry, and traffic between the survivors is untouched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping } from '../harness/pods.ts';
import { waitFor } from '../harness/wait.ts';
import { FaultCluster, timed, type FaultNode } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl']);

describe('fault: the lease of a dead node expires', { skip }, () => {
  const prefix = uniquePrefix('ffx');
  let c: FaultCluster;
  let nodes: FaultNode[];

  before(async () => {
    c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
    nodes = await c.addReadyNodes(3);
    for (const n of nodes) c.addPod(n);
  });

  after(async () => {
    await c?.down();
  });

  it('removes its route, neighbour and FDB entry on every other node', async () => {
    await timed('lease expiry of a dead node', async () => {
      const [n1, n2, n3] = nodes as [FaultNode, FaultNode, FaultNode];
      const gone = c.subnet(n3);
      const mac = c.vtepMac(n3);
      const key = c.leaseKey(gone);
      const survivors = [n1, n2];
      for (const n of survivors) {
        await waitFor(`${n.name} to route to node3`, () => c.routesTo(n, n3), 30_000);
      }
      const leaseId = await c.etcdLeaseOf(key);
      assert.ok(leaseId, `${key} hangs on no etcd lease: ${await c.ctl(['get', '-w', 'json', key])}`);
      assert.match(await c.ctl(['lease', 'list']), new RegExp(`\\b${leaseId}\\b`));

      assert.equal((await c.kill(n3)).signal, 'SIGKILL');
      // Dead, not departed: its lease is still in etcd, so the others keep routing to it.
      assert.ok(await c.leaseValue(key));
      for (const n of survivors) assert.ok(c.routesTo(n, n3), `${n.name} dropped node3 before its lease expired`);

      assert.match(await c.ctl(['lease', 'revoke', leaseId]), /revoked/);
      assert.equal(await c.leaseValue(key), undefined, 'revoking the lease removes the key');

      for (const n of survivors) {
        await waitFor(
          `${n.name} to forget node3 (${gone}, ${mac})`,
          () =>
            c.routeTo(n, gone) === undefined &&
            !c.neighbours(n).some((e) => e.dst === gone.ip.toString() || e.lladdr === mac) &&
            !c.fdb(n).some((e) => e.mac === mac || e.dst === n3.underlayIP),
          30_000,
        );
        await n.proc?.waitForLine(new RegExp(`Subnet removed: ${gone.toString().replace(/[./]/g, '\\$&')}`), 5000);
        assert.ok(!c.routes(n).some((r) => r.gateway === gone.ip.toString()), `${n.name} still has a route via ${gone.ip}`);
      }
      assert.deepEqual(await c.leaseKeys(), [c.leaseKey(c.subnet(n1)), c.leaseKey(c.subnet(n2))].sort());
      // The survivors still reach each other, both ways.
      ping(c.podOf(n1), c.podOf(n2).ip);
      ping(c.podOf(n2), c.podOf(n1).ip);
      assert.ok(c.routesTo(n1, n2) && c.routesTo(n2, n1));
    });
  });
});
