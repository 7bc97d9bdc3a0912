import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cliCommand, labHints, labInvocation, renderHints, shellWord, type HintFacts } from './hints.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODES: HintFacts['nodes'] = [
  { name: 'node1', underlayIP: '192.168.50.11', subnet: '10.244.25.0/24', subnetFile: '/run/flannel-ts/lab/rel/node1/subnet.env' },
  { name: 'node2', underlayIP: '192.168.50.12', subnet: '10.244.16.0/24', subnetFile: '/run/flannel-ts/lab/rel/node2/subnet.env' },
];
const PODS: HintFacts['pods'] = [
  { name: 'node1-pod1', node: 'node1', ip: '10.244.25.2' },
  { name: 'node2-pod1', node: 'node2', ip: '10.244.16.2' },
];
const base: HintFacts = { backend: 'vxlan', directRouting: false, nftables: false, network: '10.244.0.0/16', externalEtcd: [], etcdPrefix: '/coreos.com/network', nodes: NODES, pods: PODS };
const CLI = 'node dist/cli/flannel-ts.js';
const commands = (name: string, f: HintFacts, stateDir = `/run/flannel-ts/lab/${name}`): string[] => labHints({ cli: CLI, name, stateDir }, f).map((h) => h.command);

describe('lab hints', () => {
  it('the CLI is "node dist/cli/flannel-ts.js" from the checkout and an absolute path elsewhere', () => {
    assert.equal(cliCommand(ROOT, false), 'node dist/cli/flannel-ts.js');
    assert.equal(cliCommand(tmpdir(), false), `node ${ROOT}dist/cli/flannel-ts.js`);
    assert.equal(cliCommand(ROOT, true), 'node --import tsx src/cli/flannel-ts.ts');
    assert.match(cliCommand(tmpdir(), true), new RegExp(`^node --import file://\\S+/tsx/\\S+ ${ROOT}src/cli/flannel-ts\\.ts$`));
  });

  it('names the lab only when it is not the default, and the state directory only when it is not the default', () => {
    assert.equal(labInvocation({ cli: CLI, name: 'lab', stateDir: '/run/flannel-ts/lab/lab' }), `${CLI} lab`);
    assert.equal(labInvocation({ cli: CLI, name: 'rel', stateDir: '/run/flannel-ts/lab/rel' }), `${CLI} lab --name rel`);
    assert.equal(labInvocation({ cli: CLI, name: 'lab', stateDir: '/tmp/my lab' }), `${CLI} lab --state-dir '/tmp/my lab'`);
    assert.equal(shellWord("it's"), `'it'\\''s'`);
  });

  it('a vxlan/iptables lab with the default name', () => {
    assert.deepEqual(commands('lab', { ...base, nodes: NODES.map((n) => ({ ...n, subnetFile: n.subnetFile.replace('/rel/', '/lab/') })) }), [
      `${CLI} lab exec node1 -- ip route`,
      `${CLI} lab exec node1 -- bridge fdb show dev flannel.1`,
      `${CLI} lab exec node1 -- ip neigh show dev flannel.1`,
      `${CLI} lab exec node1 -- iptables -t nat -S FLANNEL-POSTRTG`,
      `${CLI} lab exec node1 -- iptables -S FLANNEL-FWD`,
      `${CLI} lab exec node1 -- cat /run/flannel/subnet.env`,
      `${CLI} lab exec node1-pod1 -- ping -c 3 10.244.16.2`,
      `${CLI} lab exec node1 -- conntrack -L`,
      `${CLI} lab path node1-pod1 node2-pod1`,
      `${CLI} lab exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets`,
      `${CLI} lab doctor`,
      `${CLI} lab break --list`,
      `${CLI} lab check`,
      `${CLI} lab status`,
      `${CLI} lab down`,
    ]);
    assert.equal(labHints({ cli: CLI, name: 'lab', stateDir: '/run/flannel-ts/lab/lab' }, base)[0]?.comment, '10.244.16.0/24 (node2) via flannel.1 onlink');
    assert.equal(
      labHints({ cli: CLI, name: 'lab', stateDir: '/run/flannel-ts/lab/lab' }, base).find((h) => h.command === `${CLI} lab path node1-pod1 node2-pod1`)?.comment,
      "the packet's path from node1-pod1 to node2-pod1 hop by hop, each hop with its kernel object",
    );
  });

  it('a host-gw/nftables lab named rel: no FDB, nft instead of iptables, the name in every command', () => {
    const f = { ...base, backend: 'host-gw', nftables: true };
    const hints = labHints({ cli: CLI, name: 'rel', stateDir: '/run/flannel-ts/lab/rel' }, f);
    assert.deepEqual(
      hints.map((h) => h.command),
      [
        `${CLI} lab --name rel exec node1 -- ip route`,
        `${CLI} lab --name rel exec node1 -- nft list table ip flannel-ipv4`,
        `${CLI} lab --name rel exec node1 -- cat /run/flannel/subnet.env`,
        `${CLI} lab --name rel exec node1-pod1 -- ping -c 3 10.244.16.2`,
        `${CLI} lab --name rel exec node1 -- conntrack -L`,
        `${CLI} lab --name rel path node1-pod1 node2-pod1`,
        `${CLI} lab --name rel exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets`,
        `${CLI} lab --name rel doctor`,
        `${CLI} lab --name rel break --list`,
        `${CLI} lab --name rel check`,
        `${CLI} lab --name rel status`,
        `${CLI} lab --name rel down`,
      ],
    );
    assert.equal(hints[0]?.comment, '10.244.16.0/24 (node2) via 192.168.50.12 dev eth0');
  });

  it('vxlan DirectRouting routes over eth0 and has no FDB to show', () => {
    const hints = labHints({ cli: CLI, name: 'rel', stateDir: '/tmp/s' }, { ...base, directRouting: true });
    assert.equal(hints[0]?.comment, '10.244.16.0/24 (node2) via 192.168.50.12 dev eth0 (DirectRouting: same underlay segment)');
    assert.ok(!hints.some((h) => h.command.includes('flannel.1')));
    assert.ok(hints.every((h) => h.command.startsWith(`${CLI} lab --name rel --state-dir /tmp/s `)));
  });

  it('an external etcd is asked from a node; one node and no pods leave out what needs a peer', () => {
    const ext = commands('rel', { ...base, externalEtcd: ['http://192.168.50.5:2379'] });
    assert.ok(ext.includes(`${CLI} lab --name rel exec node1 -- etcdctl --endpoints=http://192.168.50.5:2379 get --prefix --keys-only /coreos.com/network/subnets`));
    assert.ok(!ext.some((c) => c.includes('exec etcd')));
    const lone = labHints({ cli: CLI, name: 'rel', stateDir: '/run/flannel-ts/lab/rel' }, { ...base, nodes: NODES.slice(0, 1), pods: [] });
    assert.deepEqual(
      lone.map((h) => h.command.replace(`${CLI} lab --name rel `, '')),
      ['exec node1 -- ip route', 'exec node1 -- iptables -t nat -S FLANNEL-POSTRTG', 'exec node1 -- iptables -S FLANNEL-FWD', 'exec node1 -- cat /run/flannel/subnet.env', 'exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets', 'doctor', 'break --list', 'check', 'status', 'down'],
    );
    assert.equal(lone[0]?.comment, "node1's own routes (no other node)");
  });

  it('renders each hint as a shell line whose comment follows "  # "', () => {
    const lines = renderHints(labHints({ cli: CLI, name: 'rel', stateDir: '/run/flannel-ts/lab/rel' }, base));
    assert.equal(lines[0], `  ${CLI} lab --name rel exec node1 -- ip route${' '.repeat(lines[0]!.indexOf('  #') - `  ${CLI} lab --name rel exec node1 -- ip route`.length)}  # 10.244.16.0/24 (node2) via flannel.1 onlink`);
    for (const l of lines) assert.match(l, /^ {2}node dist\/cli\/flannel-ts\.js lab --name rel \S.* {2}# \S/);
  });
});
