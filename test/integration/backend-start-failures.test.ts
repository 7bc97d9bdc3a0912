/**
 * Backends that cannot start stop flanneld at start, cleanly (issue 14): real flanneld in a node
 * namespace against a real etcd. Each case: exit 1 with the exact error (and hint), and nothing
 * left behind: no lease in etcd, no subnet.env, no flannel device.
 * - ipip on a kernel without the ipip module: stops before leasing (the device comes first).
 * - extension with a failing PreStartupCommand: stops before leasing.
 * - extension with a failing PostStartupCommand: stops after leasing, and the new lease is released.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { kernelHasIpip } from '../harness/kernel-features.ts';
import { FaultCluster, flannelKernelState, running, type FaultNode } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'nft']);

interface Case {
  name: string;
  backend: Record<string, unknown>;
  error: string;
  hint?: string;
  /** Log lines (after the timestamp and level) the run must hold. */
  lines?: RegExp[];
  skip?: () => string | false;
}

const CASES: Case[] = [
  {
    name: 'ipip on a kernel without the ipip module',
    backend: { Type: 'ipip' },
    error: 'the ipip backend needs the "ipip" kernel module, and this kernel has none loaded: creating the tunnel device flannel.ipip failed with EOPNOTSUPP (Unknown device type)',
    hint: 'load the module on the node (the host, not a container): modprobe ipip; to load it at every boot: echo ipip > /etc/modules-load.d/ipip.conf. A kernel built without CONFIG_NET_IPIP cannot run ipip: use Backend.Type "vxlan" there',
    skip: () => (kernelHasIpip().available ? 'this kernel has the ipip module, so flanneld starts; the missing-module path is covered on FakeKernel (src/backend/ipip/ipip.test.ts)' : false),
  },
  {
    name: 'extension with a failing PreStartupCommand',
    backend: { Type: 'extension', PreStartupCommand: 'echo "no key file" >&2; exit 4', SubnetAddCommand: 'true' },
    error: 'PreStartupCommand failed with exit code 4: no key file (the command: sh -c "echo \\"no key file\\" >&2; exit 4")',
    hint: 'fix Backend.PreStartupCommand in the network configuration (run it by hand with sh -c to see why it fails) and restart flanneld; start-up stopped and nothing was written',
  },
  {
    name: 'extension with a failing PostStartupCommand (after the lease was acquired)',
    backend: { Type: 'extension', PostStartupCommand: 'echo "cannot set up $SUBNET" >&2; exit 7', SubnetAddCommand: 'true' },
    error: 'PostStartupCommand failed with exit code 7: cannot set up 10.244.',
    lines: [/^\S+ WARN {2}start-up failed after it wrote to the node or the datastore; undoing it: PostStartupCommand failed with exit code 7/, /^\S+ INFO {2}undone: .*lease/],
  },
];

describe('backends that cannot start: flanneld exits 1 and leaves nothing behind', { skip }, () => {
  const prefix = uniquePrefix('fbs');
  let c: FaultCluster;
  let node: FaultNode;

  before(async () => {
    c = await FaultCluster.create({ prefix });
    node = c.addNode();
  });

  after(async () => {
    await c?.down();
  });

  CASES.forEach((sc, i) => {
    it(sc.name, async (t) => {
      const why = sc.skip?.();
      if (why) {
        console.log(`# SKIP ${why}`);
        t.skip(why);
        return;
      }
      const etcdPrefix = `/${prefix}-case${i}/network`;
      await c.ctl(['put', `${etcdPrefix}/config`, JSON.stringify({ Network: '10.244.0.0/16', Backend: sc.backend })]);
      const p = c.start(node, [`--etcd-prefix=${etcdPrefix}`]);
      const st = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000).unref())]);
      if (st === 'timeout' || running(p)) {
        await c.kill(node);
        assert.fail(`flanneld did not exit within 90 s; output:\n${p.output()}`);
      }
      const out = p.output();
      assert.equal(st.code, 1, out);
      const at = p.lines.findIndex((l) => l.startsWith(`flanneld: error: ${sc.error}`));
      assert.ok(at >= 0, `no line "flanneld: error: ${sc.error}..." in:\n${out}`);
      if (sc.hint) assert.equal(p.lines[at + 1], `flanneld: hint: ${sc.hint}`, out);
      for (const re of sc.lines ?? []) assert.ok(p.lines.some((l) => re.test(l)), `no line matching ${re} in:\n${out}`);
      assert.deepEqual(await c.ctl(['get', '--prefix', '--keys-only', `${etcdPrefix}/subnets/`]).then((s) => s.split('\n').filter(Boolean)), [], 'no lease in etcd');
      assert.equal(existsSync(node.subnetFile), false, 'no subnet.env');
      assert.deepEqual(flannelKernelState(node.ns), [], 'no flannel device, route or rule');
      assert.deepEqual(node.ns.ipJson<Array<{ ifname: string }>>(['link', 'show']).map((l) => l.ifname).sort(), ['eth0', 'lo'], 'no device of any kind was added (no tunl0 either)');
    });
  });
});
