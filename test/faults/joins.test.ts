/**
 * Fault suite: many nodes joining at the same moment, and more nodes than the pool has subnets.
 * 20 flanneld started at once get 20 distinct subnets (etcd, subnet.env, kernel); when the pool
 * is exhausted the extra node exits 1 with an error naming the pool and the fix, and leaves
 * nothing behind (no device, no rules, no subnet.env, no lease).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Cidr } from '../../src/ip/index.ts';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { waitFor } from '../harness/wait.ts';
import { FaultCluster, flannelKernelState, running, timed, type FaultNode } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'nft', 'curl']);
const NETWORK = '10.244.0.0/16';

describe('fault: 20 flanneld join at once', { skip }, () => {
  const prefix = uniquePrefix('ffj');
  let c: FaultCluster;

  after(async () => {
    await c?.down();
  });

  it('gives 20 distinct subnets, recorded in etcd and each subnet.env, and every node routes to the 19 others', async () => {
    await timed('20 concurrent joins', async () => {
      c = await FaultCluster.create({ prefix, netconf: { Network: NETWORK, Backend: { Type: 'vxlan' } } });
      const nodes = Array.from({ length: 20 }, () => c.addNode());
      for (const n of nodes) c.start(n);
      await Promise.all(nodes.map((n) => c.waitReady(n, 120_000)));

      const subnets = nodes.map((n) => c.subnet(n));
      assert.equal(new Set(subnets.map(String)).size, 20, `subnets not distinct: ${subnets.join(' ')}`);
      for (const s of subnets) assert.ok(Cidr.parse(NETWORK).containsCidr(s) && s.prefix === 24, `${s} is not a /24 of ${NETWORK}`);
      assert.deepEqual(await c.leaseKeys(), subnets.map((s) => c.leaseKey(s)).sort());
      for (const [i, n] of nodes.entries()) {
        const value = JSON.parse((await c.leaseValue(c.leaseKey(subnets[i] as Cidr))) ?? '{}') as Record<string, unknown>;
        assert.equal(value.PublicIP, n.underlayIP, `lease of ${n.name}`);
        assert.equal(value.BackendType, 'vxlan');
        assert.equal((value.BackendData as { VtepMAC?: string } | undefined)?.VtepMAC, c.vtepMac(n), `${n.name}'s lease names its VTEP MAC`);
        await n.proc?.waitForLine(new RegExp(`acquired lease: ${String(subnets[i]).replace(/[./]/g, '\\$&')}`), 1000);
      }
      // Everyone sees everyone: 19 routes via flannel.1, 19 neighbours, 19 FDB entries per node.
      for (const n of nodes) {
        await waitFor(
          `${n.name} to route to all 19 peers`,
          () => nodes.every((p) => p === n || c.routesTo(n, p)),
          60_000,
          500,
        );
        assert.equal(c.routes(n).filter((r) => r.dev === 'flannel.1').length, 19, `${n.name}: ${JSON.stringify(c.routes(n))}`);
      }
      for (const n of nodes) assert.ok(n.proc && running(n.proc), `${n.name} exited:\n${n.proc?.output()}`);
    });
  });
});

describe('fault: the pool is exhausted', { skip }, () => {
  const prefix = uniquePrefix('ffp');
  let c: FaultCluster;

  after(async () => {
    await c?.down();
  });

  it('3 nodes for 2 subnets: the extra node exits 1 naming the pool and the fix, and leaves nothing behind', async () => {
    await timed('pool exhausted', async () => {
      c = await FaultCluster.create({
        prefix,
        netconf: { Network: NETWORK, SubnetMin: '10.244.1.0', SubnetMax: '10.244.2.0', Backend: { Type: 'vxlan' } },
      });
      const nodes = [c.addNode(), c.addNode(), c.addNode()];
      // All at once: which one loses the race is not known in advance.
      for (const n of nodes) c.start(n);
      const outcomes = await Promise.all(
        nodes.map(async (n) => {
          const p = n.proc;
          assert.ok(p);
          return await Promise.race([
            c.waitReady(n, 90_000).then(() => 'ready' as const),
            p.exited.then((st) => ({ st })),
          ]).catch(async () => ({ st: await p.exited }));
        }),
      );
      const losers = nodes.filter((_, i) => outcomes[i] !== 'ready');
      const winners = nodes.filter((_, i) => outcomes[i] === 'ready');
      assert.equal(losers.length, 1, `expected exactly one node to fail:\n${nodes.map((n) => `${n.name}:\n${n.proc?.output()}`).join('\n')}`);
      const loser = losers[0] as FaultNode;
      const p = loser.proc;
      assert.ok(p);
      const st = await p.exited;
      assert.equal(st.code, 1, p.output());
      const error = 'flanneld: error: no free subnet left in Network 10.244.0.0/16 with SubnetLen 24 (2 subnets from SubnetMin 10.244.1.0 to SubnetMax 10.244.2.0); 2 leases exist';
      assert.ok(p.lines.includes(error), `expected the line\n${error}\nin:\n${p.output()}`);
      const hint = p.lines.find((l) => l.startsWith('flanneld: hint: '));
      assert.match(hint ?? '', /^flanneld: hint: make room: use a bigger Network, a longer SubnetLen \(smaller per-node subnets, e\.g\. 25 instead of 24\), or a wider SubnetMin\.\.SubnetMax; or .*etcdctl.* del /, p.output());

      // Nothing behind: kernel, disk, etcd.
      assert.deepEqual(flannelKernelState(loser.ns), [], `${loser.name} left kernel state behind`);
      assert.ok(!existsSync(loser.subnetFile), `${loser.name} wrote ${loser.subnetFile}`);
      const keys = await c.leaseKeys();
      assert.deepEqual(keys, ['/coreos.com/network/subnets/10.244.1.0-24', '/coreos.com/network/subnets/10.244.2.0-24']);
      for (const k of keys) {
        const value = JSON.parse((await c.leaseValue(k)) ?? '{}') as { PublicIP?: string };
        assert.ok(winners.some((w) => w.underlayIP === value.PublicIP), `${k} is held by ${value.PublicIP}, not by a running node`);
      }
      assert.equal((await c.ctl(['lease', 'list'])).match(/^[0-9a-f]+$/gm)?.length ?? 0, 2, 'the failed node left an etcd lease behind');
      for (const w of winners) assert.ok(w.proc && running(w.proc));
    });
  });
});
