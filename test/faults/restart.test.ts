/**
 * Fault suite: restarting a node's flanneld (SIGTERM, then SIGKILL) must not drop a single packet
 * between pods, and the node must come back with the same subnet, lease and VTEP MAC.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping } from '../harness/pods.ts';
import { FaultCluster, running, startPinger, timed, type FaultNode } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'nft', 'ping', 'curl']);

const BACKENDS = [
  { name: 'vxlan', backend: { Type: 'vxlan' }, vxlan: true },
  { name: 'host-gw', backend: { Type: 'host-gw' }, vxlan: false },
];

for (const b of BACKENDS) {
  describe(`fault: flanneld restarts without packet loss (${b.name})`, { skip }, () => {
    const prefix = uniquePrefix('ffr');
    let c: FaultCluster;
    let n1: FaultNode;
    let n2: FaultNode;

    before(async () => {
      c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: b.backend } });
      [n1, n2] = (await c.addReadyNodes(2)) as [FaultNode, FaultNode];
      for (const n of [n1, n2]) c.addPod(n);
      await c.ctl(['endpoint', 'health']);
    });

    after(async () => {
      await c?.down();
    });

    /** What a restart must keep: subnet.env's subnet, the lease (key and value) and the VTEP MAC. */
    const identity = async (n: FaultNode): Promise<Record<string, unknown>> => {
      const subnet = c.subnet(n);
      const key = c.leaseKey(subnet);
      return { subnet: subnet.toString(), key, value: await c.leaseValue(key), ...(b.vxlan ? { mac: c.vtepMac(n) } : {}) };
    };

    const restartWhilePinging = async (how: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
      const before = await identity(n2);
      const old = n2.proc;
      assert.ok(old && running(old));
      // The pod on node1 pings the pod on node2 the whole time node2's flanneld is down and back.
      const pinger = startPinger(c.podOf(n1), c.podOf(n2).ip);
      await new Promise((r) => setTimeout(r, 1000));
      if (how === 'SIGTERM') {
        const st = await c.stop(n2);
        assert.equal(st.code, 0, old.output());
        await old.waitForLine(/received SIGTERM, shutting down \(the lease is kept for the next start\)/, 1000);
      } else {
        const st = await c.kill(n2);
        assert.equal(st.signal, 'SIGKILL');
      }
      // With flanneld gone, the kernel state it programmed stays: node1 still routes to node2.
      assert.ok(c.routesTo(n1, n2, b.vxlan), `${how}: node1 lost its route to node2 while node2's flanneld was down`);
      assert.ok(c.routesTo(n2, n1, b.vxlan), `${how}: node2's own routes vanished with its flanneld`);
      const fresh = c.start(n2);
      await c.waitReady(n2);
      await fresh.waitForLine(new RegExp(`acquired lease: ${String(before.subnet).replace(/[./]/g, '\\$&')}`), 5000);
      await new Promise((r) => setTimeout(r, 1000));
      const res = await pinger.stop();
      assert.ok(res.transmitted >= 15, `only ${res.transmitted} pings sent:\n${res.output.slice(-500)}`);
      assert.equal(res.lost, 0, `${how} restart lost ${res.lost} of ${res.transmitted} pings:\n${res.output.slice(-1500)}`);
      console.log(`# ${b.name} ${how} restart: ${res.received}/${res.transmitted} pings answered`);
      assert.deepEqual(await identity(n2), before);
      assert.deepEqual(await c.leaseKeys(), [c.leaseKey(c.subnet(n1)), c.leaseKey(c.subnet(n2))].sort());
      assert.ok(c.routesTo(n1, n2, b.vxlan) && c.routesTo(n2, n1, b.vxlan));
      ping(c.podOf(n2), c.podOf(n1).ip);
    };

    it('SIGTERM restart of the peer: 0 pings lost, same subnet, lease and VTEP MAC', async () => {
      await timed(`restart ${b.name} SIGTERM`, () => restartWhilePinging('SIGTERM'));
    });

    it('SIGKILL restart of the peer: 0 pings lost, same subnet, lease and VTEP MAC', async () => {
      await timed(`restart ${b.name} SIGKILL`, () => restartWhilePinging('SIGKILL'));
    });
  });
}

describe('fault: a restart keeps the subnet whatever the pod bridge is called', { skip }, () => {
  // The bridge CNI plugin's "bridge" option names the device (cni0 is only the default): the
  // node's own pod subnet on it is not a host network that the next lease must avoid.
  const prefix = uniquePrefix('ffb');
  let c: FaultCluster;

  after(async () => {
    await c?.down();
  });

  it('SIGTERM restart with pods on a bridge named "pods0": same subnet, 0 pings lost', async () => {
    await timed('restart with bridge pods0', async () => {
      c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
      const [n1, n2] = (await c.addReadyNodes(2)) as [FaultNode, FaultNode];
      c.addPod(n1);
      c.addPod(n2, 'pods0');
      const subnet = c.subnet(n2).toString();
      const pinger = startPinger(c.podOf(n1), c.podOf(n2).ip);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await c.stop(n2)).code, 0);
      const fresh = c.start(n2);
      await c.waitReady(n2);
      const res = await pinger.stop();
      assert.equal(c.subnet(n2).toString(), subnet, `node2 leased another subnet after its restart:\n${fresh.lines.filter((l) => /lease|overlap/.test(l)).join('\n')}`);
      assert.equal(res.lost, 0, `lost ${res.lost} of ${res.transmitted} pings`);
    });
  });
});
