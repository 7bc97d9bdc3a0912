/**
 * Fault suite: etcd hangs (SIGSTOP: its sockets stay open, nothing answers) for 60 s. The data
 * plane keeps carrying pod traffic the whole time, no flanneld exits, a node started during the
 * outage waits and says why, and once etcd answers again everything reconverges: the new node
 * gets a lease, every pair of nodes routes, and the running nodes log that their watch is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping } from '../harness/pods.ts';
import { waitFor } from '../harness/wait.ts';
import { FaultCluster, running, startPinger, timed, type FaultNode, type Pinger } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl']);
const OUTAGE_MS = 60_000;
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('fault: etcd stopped (SIGSTOP) for 60 s', { skip }, () => {
  const prefix = uniquePrefix('ffe');
  let c: FaultCluster;
  let nodes: FaultNode[];

  before(async () => {
    c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
    nodes = await c.addReadyNodes(3);
    for (const n of nodes) c.addPod(n);
  });

  after(async () => {
    await c?.etcd.unpause().catch(() => undefined);
    await c?.down();
  });

  it('keeps the data plane up, keeps every flanneld running, and reconverges when etcd answers again', async () => {
    await timed('etcd outage 60 s', async () => {
      const [n1, n2, n3] = nodes as [FaultNode, FaultNode, FaultNode];
      const leasesBefore = new Map<string, { value: string | undefined; etcdLease: string | undefined }>();
      for (const key of await c.leaseKeys()) leasesBefore.set(key, { value: await c.leaseValue(key), etcdLease: await c.etcdLeaseOf(key) });
      assert.equal(leasesBefore.size, 3);

      // Pod traffic around the ring, through the whole outage.
      const pingers: Array<[string, Pinger]> = [
        [`${n1.name}->${n2.name}`, startPinger(c.podOf(n1), c.podOf(n2).ip)],
        [`${n2.name}->${n3.name}`, startPinger(c.podOf(n2), c.podOf(n3).ip)],
        [`${n3.name}->${n1.name}`, startPinger(c.podOf(n3), c.podOf(n1).ip)],
      ];
      let pingersStopped = false;
      try {
        await new Promise((r) => setTimeout(r, 1000));
        await c.etcd.pause();
        const pausedAt = Date.now();
        let n4: FaultNode;
        try {
          // A node that joins during the outage waits, and says why (its log and /readyz).
          n4 = c.addNode();
          const p4 = c.start(n4);
          const why = await p4.waitForLine(
            new RegExp(`WARN  reading the network configuration from etcd failed, retrying in [\\d.]+s: cannot reach etcd at ${esc(c.etcd.endpoint)} \\(get /coreos\\.com/network/config`),
            45_000,
          );
          assert.match(why, /hint=check that etcd is running and reachable from this node/);
          const ready4 = await c.http(n4, '/readyz');
          assert.deepEqual(ready4, { status: 503, body: 'not ready: waiting for the network configuration\n' });

          // Hold the outage for its full length, checking that nobody gives up meanwhile.
          while (Date.now() - pausedAt < OUTAGE_MS) {
            for (const n of [...nodes, n4]) {
              assert.ok(n.proc && running(n.proc), `${n.name}'s flanneld exited during the outage:\n${n.proc?.output()}`);
              assert.equal((await c.http(n, '/healthz')).status, 200, `${n.name} /healthz`);
            }
            await new Promise((r) => setTimeout(r, 5000));
          }
          // Still nothing written for the new node: it has no subnet yet.
          assert.equal(c.routes(n1).filter((r) => r.dev === 'flannel.1').length, 2);
        } finally {
          await c.etcd.unpause();
        }
        const outageSeconds = (Date.now() - pausedAt) / 1000;
        console.log(`# etcd was paused for ${outageSeconds.toFixed(1)} s`);

        // Reconvergence: the waiting node gets a lease, every pair routes.
        await c.waitReady(n4, 60_000);
        c.addPod(n4);
        const all = [...nodes, n4];
        for (const a of all) {
          for (const b of all) {
            if (a === b) continue;
            await waitFor(`${a.name} to route to ${b.name}`, () => c.routesTo(a, b), 60_000, 250);
          }
        }
        for (const a of all) {
          for (const b of all) if (a !== b) ping(c.podOf(a), c.podOf(b).ip);
        }
        // The running nodes say that the datastore is back.
        for (const n of nodes) {
          const line = await (n.proc as NonNullable<FaultNode['proc']>).waitForLine(/restored/, 60_000);
          assert.match(line, /INFO {2}\[subnet:etcd\] watch on \/coreos\.com\/network\/subnets\/ restored after [\d.]+ s \(re-listed \d+ leases?\)/);
          const after = Number(/restored after ([\d.]+) s/.exec(line)?.[1]);
          assert.ok(after > 0 && after <= outageSeconds + 5, `${n.name}: "${line}" (outage ${outageSeconds} s)`);
        }

        pingersStopped = true;
        for (const [what, p] of pingers) {
          const res = await p.stop();
          console.log(`# ${what}: ${res.received}/${res.transmitted} pings answered through the outage`);
          assert.ok(res.transmitted >= 400, `${what}: only ${res.transmitted} pings sent`);
          assert.equal(res.lost, 0, `${what} lost ${res.lost} of ${res.transmitted} pings:\n${res.output.slice(-1500)}`);
        }

        // etcd: the old leases are untouched (same value, same etcd lease), plus the new node's.
        const keys = await c.leaseKeys();
        assert.deepEqual(keys, all.map((n) => c.leaseKey(c.subnet(n))).sort());
        for (const [key, was] of leasesBefore) {
          assert.deepEqual({ value: await c.leaseValue(key), etcdLease: await c.etcdLeaseOf(key) }, was, key);
        }
        for (const n of all) {
          assert.ok(n.proc && running(n.proc), `${n.name} exited`);
          assert.equal((await c.http(n, '/readyz')).status, 200, `${n.name} /readyz`);
          const errors = n.proc.lines.filter((l) => / ERROR /.test(l));
          assert.deepEqual(errors, [], `${n.name} logged errors for a datastore outage`);
        }
      } finally {
        if (!pingersStopped) for (const [, p] of pingers) await p.stop().catch(() => undefined);
      }
    });
  });
});
