/**
 * The Linux data plane end to end: three node namespaces on a switch, etcd in its own namespace,
 * one flanneld per node; exact kernel state, then real packets between pods of every node pair.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { programArgv, type LabNode } from '../../src/lab/cluster.ts';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';
import { Cidr } from '../../src/ip/index.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping } from '../harness/pods.ts';
import { podCluster } from '../harness/pod-cluster.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'nft', 'ping', 'curl']);

interface Combo {
  name: string;
  backend: Record<string, unknown>;
  nftables: boolean;
  /** Run the slower robustness checks (restart, repair, foreign chains) in this combination. */
  deep: boolean;
}

const COMBOS: Combo[] = [
  { name: 'vxlan + iptables', backend: { Type: 'vxlan' }, nftables: false, deep: true },
  { name: 'vxlan + nftables', backend: { Type: 'vxlan' }, nftables: true, deep: true },
  { name: 'vxlan DirectRouting + iptables', backend: { Type: 'vxlan', DirectRouting: true }, nftables: false, deep: false },
  { name: 'host-gw + iptables', backend: { Type: 'host-gw' }, nftables: false, deep: true },
  { name: 'host-gw + nftables', backend: { Type: 'host-gw' }, nftables: true, deep: false },
];

const NETWORK = '10.244.0.0/16';

type IpJson = Array<Record<string, unknown>>;

for (const combo of COMBOS) {
  describe(`data plane: ${combo.name}`, { skip }, () => {
    const prefix = uniquePrefix('fle');
    const lab = podCluster({ prefix, netconf: { Network: NETWORK, EnableNFTables: combo.nftables, Backend: combo.backend } });
    const { ns, subnetOf, routeTo } = lab;
    const isVxlan = combo.backend.Type === 'vxlan';
    const direct = combo.backend.DirectRouting === true;

    const vtep = (n: LabNode): { mac: string; index: number } => {
      const [link] = ns(n).ipJson<IpJson>(['link', 'show', 'flannel.1']);
      return { mac: String(link?.address), index: Number(link?.ifindex) };
    };

    it('programs the exact kernel state on every node', () => {
      for (const n of lab.cluster.nodes) {
        const own = subnetOf(n);
        assert.ok(Cidr.parse(NETWORK).containsCidr(own));
        if (isVxlan) {
          const [dev] = ns(n).ipJson<IpJson>(['-d', 'link', 'show', 'flannel.1']);
          const info = (dev?.linkinfo as { info_kind: string; info_data: Record<string, unknown> }).info_data;
          assert.equal((dev?.linkinfo as { info_kind: string }).info_kind, 'vxlan');
          assert.equal(info.id, 1);
          assert.equal(info.local, n.underlayIP);
          assert.equal(info.port, 8472);
          assert.equal(info.learning, false);
          assert.equal(info.link, 'eth0');
          assert.equal(dev?.mtu, 1450);
          assert.match(String(dev?.address), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
          assert.equal(Number.parseInt(String(dev?.address).slice(0, 2), 16) & 0b11, 0b10, 'locally administered unicast MAC');
          const addrs = ns(n).ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(['addr', 'show', 'flannel.1']);
          assert.deepEqual(addrs[0]?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`${own.ip}/32`]);
        }
        assert.equal(readFileSync(n.subnetFile, 'utf8'), `FLANNEL_NETWORK=${NETWORK}\nFLANNEL_SUBNET=${own.firstHost}/24\nFLANNEL_MTU=${isVxlan ? 1450 : 1500}\nFLANNEL_IPMASQ=true\n`);

        for (const peer of lab.cluster.nodes.filter((p) => p !== n)) {
          const ps = subnetOf(peer);
          const r = routeTo(n, ps);
          assert.ok(r, `${n.name}: no route to ${peer.name}'s ${ps}`);
          if (isVxlan && !direct) {
            assert.equal(r.dev, 'flannel.1');
            assert.equal(r.gateway, ps.ip.toString());
            assert.ok((r.flags as string[]).includes('onlink'), JSON.stringify(r));
            const neigh = ns(n).ipJson<IpJson>(['neigh', 'show', 'dev', 'flannel.1']).find((e) => e.dst === ps.ip.toString());
            assert.equal(neigh?.lladdr, vtep(peer).mac);
            assert.deepEqual(neigh?.state, ['PERMANENT']);
            const fdb = ns(n).ipJson<IpJson>(['-d', 'link', 'show', 'flannel.1']) && JSON.parse(ns(n).exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as IpJson;
            const entry = fdb.find((e) => e.mac === vtep(peer).mac);
            assert.equal(entry?.dst, peer.underlayIP);
            assert.equal(entry?.state, 'permanent');
            assert.ok((entry?.flags as string[]).includes('self'));
          } else {
            assert.equal(r.dev, 'eth0');
            assert.equal(r.gateway, peer.underlayIP);
            if (isVxlan) assert.equal(ns(n).ipJson<IpJson>(['neigh', 'show', 'dev', 'flannel.1']).filter((e) => e.dst === ps.ip.toString()).length, 0);
          }
        }
        const own24 = own.toString();
        if (combo.nftables) {
          const t = ns(n).exec('nft', ['list', 'table', 'ip', 'flannel-ipv4']);
          assert.match(t, /type nat hook postrouting priority srcnat; policy accept;/);
          assert.match(t, new RegExp(`ip saddr ${own24.replace(/\./g, '\\.')} ip daddr 10\\.244\\.0\\.0/16 return`));
          assert.match(t, /ip saddr 10\.244\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade fully-random/);
          assert.match(t, /type filter hook forward priority filter; policy accept;/);
          assert.match(t, /ip saddr 10\.244\.0\.0\/16 accept/);
        } else {
          const nat = ns(n).exec('iptables', ['-t', 'nat', '-S']);
          for (const rule of [
            '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
            '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
            `-A FLANNEL-POSTRTG -s ${own24} -d ${NETWORK} -m comment --comment "flanneld masq" -j RETURN`,
            `-A FLANNEL-POSTRTG -s ${NETWORK} -d ${own24} -m comment --comment "flanneld masq" -j RETURN`,
            `-A FLANNEL-POSTRTG ! -s ${NETWORK} -d ${own24} -m comment --comment "flanneld masq" -j RETURN`,
            `-A FLANNEL-POSTRTG -s ${NETWORK} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
            `-A FLANNEL-POSTRTG ! -s ${NETWORK} -d ${NETWORK} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
          ]) {
            assert.ok(nat.split('\n').includes(rule), `${n.name}: missing "${rule}" in\n${nat}`);
          }
          const filter = ns(n).exec('iptables', ['-t', 'filter', '-S']);
          for (const rule of ['-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', `-A FLANNEL-FWD -s ${NETWORK} -m comment --comment "flanneld forward" -j ACCEPT`, `-A FLANNEL-FWD -d ${NETWORK} -m comment --comment "flanneld forward" -j ACCEPT`]) {
            assert.ok(filter.split('\n').includes(rule), `${n.name}: missing "${rule}" in\n${filter}`);
          }
        }
      }
    });

    it('carries ICMP and TCP between pods on every pair of nodes', () => {
      lab.assertEveryPairCarries();
    });

    if (combo.deep) {
      it('repairs a peer route deleted by hand', async () => {
        const [n1, n2] = lab.cluster.nodes as [LabNode, LabNode];
        const dst = subnetOf(n2);
        ns(n1).exec('ip', ['route', 'del', dst.toString()]);
        assert.equal(routeTo(n1, dst), undefined);
        await waitFor(`route to ${dst} on ${n1.name} to come back`, () => routeTo(n1, dst) !== undefined, 5000);
        ping(lab.pod(1), (lab.pod(2)).ip);
      });

      it('restarts flanneld without changing device, MAC or subnet, and traffic keeps flowing', async () => {
        const n1 = lab.cluster.node(1);
        const before = { subnet: subnetOf(n1).toString(), ...(isVxlan ? vtep(n1) : {}) };
        const from = lab.pod(2);
        const to = lab.pod(1);
        // Ping for as long as the restart takes (however slow the machine), then stop it.
        const pinger = from.ns.spawn('ping', ['-i', '0.1', '-W', '1', to.ip]);
        const closed = new Promise<number | null>((r) => pinger.on('close', r));
        let out = '';
        pinger.stdout?.on('data', (b: Buffer) => (out += b.toString()));
        await new Promise((r) => setTimeout(r, 500));
        await lab.cluster.stopFlanneld(n1);
        await lab.cluster.startFlanneld(n1);
        await lab.cluster.waitReady(n1);
        await new Promise((r) => setTimeout(r, 500));
        pinger.kill('SIGINT');
        const code = await closed;
        assert.equal(code, 0, out);
        assert.match(out, / 0% packet loss/, out);
        const afterRestart = { subnet: subnetOf(n1).toString(), ...(isVxlan ? vtep(n1) : {}) };
        assert.deepEqual(afterRestart, before);
        ping(to, (lab.pod(3)).ip);
      });

      it('leaves foreign rules alone and restores its own on resync', async () => {
        const n1 = lab.cluster.node(1);
        if (combo.nftables) {
          ns(n1).exec('nft', ['add', 'table', 'ip', 'kube-test']);
          ns(n1).exec('nft', ['add', 'chain', 'ip', 'kube-test', 'post', '{ type nat hook postrouting priority srcnat; }']);
          ns(n1).exec('nft', ['add', 'rule', 'ip', 'kube-test', 'post', 'ip saddr 10.99.0.0/16 return']);
          const handle = /ip saddr 10\.244\.0\.0\/16 accept # handle (\d+)/.exec(ns(n1).exec('nft', ['-a', 'list', 'chain', 'ip', 'flannel-ipv4', 'forward']))?.[1];
          assert.ok(handle);
          ns(n1).exec('nft', ['delete', 'rule', 'ip', 'flannel-ipv4', 'forward', 'handle', handle]);
          await waitFor('flannel forward rule restored', () => /ip saddr 10\.244\.0\.0\/16 accept/.test(ns(n1).exec('nft', ['list', 'chain', 'ip', 'flannel-ipv4', 'forward'])), 8000);
          assert.match(ns(n1).exec('nft', ['list', 'table', 'ip', 'kube-test']), /ip saddr 10\.99\.0\.0\/16 return/);
        } else {
          ns(n1).exec('iptables', ['-t', 'nat', '-N', 'KUBE-TEST']);
          ns(n1).exec('iptables', ['-t', 'nat', '-A', 'KUBE-TEST', '-s', '10.99.0.0/16', '-j', 'RETURN']);
          ns(n1).exec('iptables', ['-t', 'nat', '-I', 'POSTROUTING', '1', '-j', 'KUBE-TEST']);
          ns(n1).exec('iptables', ['-t', 'filter', '-D', 'FLANNEL-FWD', '-s', NETWORK, '-m', 'comment', '--comment', 'flanneld forward', '-j', 'ACCEPT']);
          await waitFor('FLANNEL-FWD rule restored', () => ns(n1).exec('iptables', ['-t', 'filter', '-S', 'FLANNEL-FWD']).includes(`-A FLANNEL-FWD -s ${NETWORK}`), 8000);
          const nat = ns(n1).exec('iptables', ['-t', 'nat', '-S']);
          assert.ok(nat.includes('-A KUBE-TEST -s 10.99.0.0/16 -j RETURN'), nat);
          assert.ok(nat.includes('-A POSTROUTING -j KUBE-TEST'), nat);
        }
      });
    }

    it('removes a departed peer from every other node', async () => {
      const n3 = lab.cluster.node(3);
      const gone = subnetOf(n3);
      const mac = isVxlan ? vtep(n3).mac : '';
      await lab.cluster.stopFlanneld(n3);
      lab.cluster.etcdctl(['del', `/coreos.com/network/subnets/${gone.ip}-${gone.prefix}`]);
      for (const n of lab.cluster.nodes.filter((x) => x !== n3)) {
        await waitFor(`${n.name} to drop the route to ${gone}`, () => routeTo(n, gone) === undefined, 5000);
        if (isVxlan && !direct) {
          assert.equal(ns(n).ipJson<IpJson>(['neigh', 'show', 'dev', 'flannel.1']).filter((e) => e.dst === gone.ip.toString()).length, 0);
          assert.equal((JSON.parse(ns(n).exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as IpJson).filter((e) => e.mac === mac).length, 0);
        }
      }
    });
  });
}

describe('flanneld start-up errors in a node namespace', { skip }, () => {
  it('exits non-zero naming a missing --iface', () => {
    const name = uniquePrefix('flei');
    const ns = Netns.create(name);
    try {
      const argv = programArgv('flanneld');
      const r = spawnSync('ip', ['netns', 'exec', name, ...argv, '--iface=eth9', '--etcd-endpoints=http://127.0.0.1:2379', '--subnet-file=/nonexistent/subnet.env'], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /flanneld: error: none of the interfaces given with --iface \(eth9\) exists on this node/);
      assert.match(r.stderr, /flanneld: hint: use one of: lo/);
    } finally {
      ns.delete();
    }
  });
});
