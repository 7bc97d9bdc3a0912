/**
 * The wireguard backend end to end, through the real CLI: `flannel-ts lab up --backend wireguard`
 * (3 nodes, a pod each, a PSK as in the seeds' example), on this kernel's userspace data path
 * (wireguard-go, one per node, each node with its own /run). Asserted on what an operator sees:
 * `wg show`, routes, etcd, packets on the switch, flanneld's log, `lab status` and its hints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, nodeMachine, programArgv, type LabNode } from '../../src/lab/cluster.ts';
import { loadPods, type LabPod } from '../../src/lab/lab-pods.ts';
import { Netns, sh, uniquePrefix } from '../../src/lab/netns.ts';
import { canPing, canTcp } from '../../src/lab/probe.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl', 'tcpdump', 'wg', 'wireguard-go', '/usr/lib/cni/bridge']);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NETWORK = '10.244.0.0/16';

function lab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd = process.execPath, ...rest] = programArgv('flannel-ts');
  return spawnSync(cmd, [...rest, 'lab', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
}

/** `wg show flannel-wg dump` on a node: the device line, then one line per peer. */
interface WgDump {
  publicKey: string;
  listenPort: number;
  peers: Map<string, { psk: string; endpoint: string; allowedIPs: string; keepalive: string; handshake: number }>;
}

function wgDump(node: LabNode): WgDump {
  const [dev = '', ...peerLines] = nodeMachine(node).exec('wg', ['show', 'flannel-wg', 'dump']).trim().split('\n');
  const [, publicKey = '', listenPort = '0'] = dev.split('\t');
  const peers = new Map(
    peerLines.map((l) => {
      const [key = '', psk = '', endpoint = '', allowedIPs = '', handshake = '0', , , keepalive = ''] = l.split('\t');
      return [key, { psk, endpoint, allowedIPs, keepalive, handshake: Number(handshake) }] as const;
    }),
  );
  return { publicKey, listenPort: Number(listenPort), peers };
}

describe('wireguard backend (userspace, wireguard-go) in a 3-node lab', { skip }, () => {
  const name = uniquePrefix('flw');
  let stateDir: string;
  let cluster: Cluster;
  let pods: LabPod[];
  let psk: string;
  const subnetOf = (n: LabNode): string => parseSubnetEnv(readFileSync(n.subnetFile, 'utf8'), n.subnetFile).subnet?.toString() ?? '';
  const node = (i: number): LabNode => cluster.node(i);
  const podOn = (i: number): LabPod => pods.find((p) => p.node === `node${i}`) as LabPod;
  const lease = (n: LabNode): Record<string, unknown> => {
    const key = `/coreos.com/network/subnets/${subnetOf(n).replace('/', '-')}`;
    return JSON.parse(cluster.etcdctl(['get', '--print-value-only', key]).trim()) as Record<string, unknown>;
  };
  const log = (n: LabNode): string => (existsSync(n.logFile) ? readFileSync(n.logFile, 'utf8') : '');

  before(() => {
    stateDir = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'state');
    const r = lab(['up', '--name', name, '--state-dir', stateDir, '--backend', 'wireguard', '--nodes', '3', '--pods', '1']);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /6\/6 pod pairs reachable over ICMP and TCP/);
    cluster = Cluster.load(stateDir);
    pods = loadPods(stateDir);
    psk = (JSON.parse(cluster.etcdctl(['get', '--print-value-only', '/coreos.com/network/config'])) as { Backend: { PSK: string } }).Backend.PSK;
  });

  after(() => {
    Cluster.down(name, stateDir);
    rmSync(join(stateDir, '..'), { recursive: true, force: true });
  });

  it('each node runs flannel-wg as upstream: MTU 1500-80, the lease address, one route for the Network, its own wgkey, and says which data path it chose', () => {
    for (const n of cluster.nodes) {
      const ns = new Netns(n.ns);
      const [link] = ns.ipJson<Array<{ mtu: number; flags: string[] }>>(['link', 'show', 'flannel-wg']);
      assert.equal(link?.mtu, 1420, n.name);
      assert.ok(link?.flags.includes('UP'), n.name);
      const subnet = subnetOf(n);
      const addrs = ns.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(['addr', 'show', 'flannel-wg'])[0]?.addr_info.filter((a) => a.family === 'inet');
      assert.deepEqual(addrs?.map((a) => `${a.local}/${a.prefixlen}`), [subnet.replace(/\/24$/, '/32')], n.name);
      const routes = ns.ipJson<Array<{ dst: string; dev: string }>>(['route', 'show', 'dev', 'flannel-wg']);
      assert.deepEqual(routes.map((r) => r.dst), [NETWORK], n.name);
      assert.match(readFileSync(n.subnetFile, 'utf8'), /^FLANNEL_MTU=1420$/m);
      assert.ok(existsSync(join(n.runDir, 'flannel', 'wgkey')), `${n.name} keeps its key in its own /run/flannel/wgkey`);
      assert.ok(existsSync(join(n.runDir, 'wireguard', 'flannel-wg.sock')), `${n.name}'s wireguard-go socket is in its own /var/run/wireguard`);
      assert.match(log(n), /INFO {2}\[backend:wireguard\] WireGuard data path: userspace \(wireguard-go\), because the kernel has none: the generic netlink family "wireguard" does not exist\n/);
    }
    assert.ok(!existsSync('/run/flannel/wgkey') || readFileSync('/run/flannel/wgkey', 'utf8') === '', 'nothing in the machine\'s own /run/flannel');
  });

  it('publishes {"PublicKey","Port"} in the lease and configures every other node as a peer with endpoint, subnet and the PSK', () => {
    for (const n of cluster.nodes) {
      const dump = wgDump(n);
      assert.equal(dump.listenPort, 51820);
      const l = lease(n);
      assert.equal(l.BackendType, 'wireguard');
      assert.deepEqual(l.BackendData, { PublicKey: dump.publicKey, Port: 51820 });
      assert.equal(l.PublicIP, n.underlayIP);
      for (const o of cluster.nodes.filter((x) => x !== n)) {
        const peer = dump.peers.get(wgDump(o).publicKey);
        assert.ok(peer, `${n.name} has ${o.name} as a peer`);
        assert.deepEqual({ endpoint: peer.endpoint, allowedIPs: peer.allowedIPs, psk: peer.psk, keepalive: peer.keepalive }, { endpoint: `${o.underlayIP}:51820`, allowedIPs: subnetOf(o), psk, keepalive: 'off' });
      }
      assert.equal(dump.peers.size, 2, n.name);
    }
  });

  // Captured on node1's port of the switch (the bridge itself sees only what it floods or receives).
  it('on the switch only UDP 51820 crosses between nodes: no plain pod-to-pod ICMP or TCP', async () => {
    const sw = new Netns(cluster.switchNs);
    const file = join(stateDir, '..', 'capture.pcap');
    const [a, b] = [node(1).underlayIP, node(2).underlayIP];
    const dump = spawn('ip', ['netns', 'exec', sw.name, 'tcpdump', '-i', 'v-n1', '-nn', '--immediate-mode', '-U', '-w', file, `host ${a} and host ${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let ready = '';
    dump.stderr?.on('data', (d: Buffer) => (ready += d.toString()));
    await waitFor('tcpdump to listen', () => ready.includes('listening on'), 30_000);
    for (let i = 0; i < 3; i++) {
      assert.ok(canPing(podOn(1).ns, podOn(2).ip), 'pod1 -> pod2 ping');
      assert.ok(canTcp(podOn(2).ns, podOn(1).ip), 'pod2 -> pod1 TCP');
    }
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('close', r));
    const lines = sh('tcpdump', ['-r', file, '-nn']).trim().split('\n').filter(Boolean);
    assert.ok(lines.length >= 12, `the pings and TCP exchanges crossed: ${lines.length} packets`);
    const other = lines.filter((l) => !new RegExp(`IP (${a}|${b})\\.51820 > (${a}|${b})\\.51820: UDP, length \\d+$`).test(l));
    assert.deepEqual(other, [], 'every packet between the nodes is WireGuard (UDP 51820 to 51820)');
    assert.ok(!lines.some((l) => l.includes('10.244.')), 'no pod address in the clear');
  });

  it('every printed hint runs as printed; lab status shows each node\'s public key and its peers', () => {
    const r = lab(['--name', name, '--state-dir', stateDir, 'status']);
    assert.equal(r.status, 0, r.stderr);
    for (const n of cluster.nodes) {
      const key = wgDump(n).publicKey;
      assert.match(r.stdout, new RegExp(`^${n.name}\\s+${name}-n${n.index}\\s+${n.underlayIP.replaceAll('.', '\\.')}\\s+\\S+\\s+${key.replace(/[+/]/g, '\\$&')}\\s+running$`, 'm'));
      assert.ok(r.stdout.includes(`== ${n.name} (${n.ns})\n-- ip route\n`), r.stdout);
    }
    assert.match(r.stdout, /-- wg show flannel-wg\ninterface: flannel-wg\n {2}public key: \S+\n {2}private key: \(hidden\)\n {2}listening port: 51820\n\npeer: /);
    const up = lab(['--name', name, '--state-dir', stateDir, 'up', '--backend', 'wireguard', '--nodes', '3', '--pods', '1']);
    assert.equal(up.status, 0, up.stderr);
    const hints = up.stdout.slice(up.stdout.indexOf('\nTry:\n') + 6).split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2).replace(/ {2,}# .*$/, ''));
    const wgHint = hints.find((h) => h.endsWith(' exec node1 -- wg show flannel-wg'));
    assert.ok(wgHint, hints.join('\n'));
    for (const h of hints.filter((x) => !/ (down|check)$/.test(x))) {
      const run = spawnSync('sh', ['-c', h.replace(/^node dist\/cli\/flannel-ts\.js|^node --import tsx src\/cli\/flannel-ts\.ts/, programArgv('flannel-ts').join(' '))], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, `${h}\n${run.stdout}\n${run.stderr}`);
      if (h === wgHint) assert.equal((run.stdout.match(/^peer: /gm) ?? []).length, 2, run.stdout);
      if (h.endsWith('cat /run/flannel/subnet.env')) assert.match(run.stdout, /^FLANNEL_MTU=1420$/m);
      if (h.endsWith(' path node1-pod1 node2-pod1')) {
        const [n1, n2] = [node(1), node(2)];
        assert.match(run.stdout, /^ +\d+ {2}node1 +route +ok {2,}node1 routes it into flannel-wg: WireGuard, one route for the whole network: the peer is picked by its allowed ips$/m, run.stdout);
        assert.match(run.stdout, new RegExp(`^ +\\d+ {2}node1 +flannel-wg +ok {2,}WireGuard peer \\S+… holds ${subnetOf(n2)}; its endpoint is ${n2.underlayIP}:51820$`, 'm'), run.stdout);
        assert.ok(run.stdout.includes(`$ wg show flannel-wg\n`) && run.stdout.includes(`endpoint: ${n2.underlayIP}:51820\n`), run.stdout);
        assert.ok(!run.stdout.includes(`endpoint: ${node(3).underlayIP}:51820`), 'only the peer that carries the packet is shown');
        assert.ok(run.stdout.includes(`WireGuard: the pod packet inside UDP 51820, from node1 (${n1.underlayIP}) to node2 (${n2.underlayIP}) out of eth0`), run.stdout);
        assert.match(run.stdout, /^ +\d+ {2}node2 +route +ok {2,}node2 takes it from flannel-wg and routes it to cni0, node2-pod1's bridge$/m, run.stdout);
        assert.match(run.stdout, /\npath complete: node1-pod1 reaches node2-pod1 in 14 hops\n$/, run.stdout);
      }
    }
  });

  it('lab doctor --connectivity: every WireGuard peer checked and reached; UDP 51820 blocked on node2 is named on node2 and by every peer probing it, then healed', () => {
    type Result = { node: string; id: string; status: string; saw: string; fix?: string };
    const doctor = (): { status: number | null; results: Result[] } => {
      const r = lab(['--name', name, '--state-dir', stateDir, 'doctor', '--connectivity', '--json']);
      assert.ok(r.status === 0 || r.status === 1, `${r.stdout}\n${r.stderr}`);
      return { status: r.status, results: (JSON.parse(r.stdout) as { nodes: Array<{ results: Result[] }> }).nodes.flatMap((n) => n.results) };
    };
    const healthy = doctor();
    assert.equal(healthy.status, 0, JSON.stringify(healthy.results.filter((r) => r.status === 'fail')));
    for (const n of cluster.nodes) {
      const peers = healthy.results.find((r) => r.node === n.name && r.id === 'dataplane.peers');
      assert.equal(peers?.status, 'ok', JSON.stringify(peers));
      const probes = healthy.results.filter((r) => r.node === n.name && r.id === 'connectivity.peers');
      assert.equal(probes.length, 2, JSON.stringify(probes));
      for (const p of probes) assert.match(p.saw, /overlay 10\.244\.\d+\.0 \(flannel-wg\) ok [\d.]+ ms, underlay 192\.168\.50\.1\d \(eth0\) ok/);
    }

    const broken = lab(['--name', name, '--state-dir', stateDir, 'break', 'udp-blocked', 'node2']);
    assert.equal(broken.status, 0, broken.stderr);
    try {
      const sick = doctor();
      assert.equal(sick.status, 1);
      const fails = sick.results.filter((r) => r.status === 'fail');
      const input = fails.find((r) => r.node === 'node2' && r.id === 'firewall.input-port');
      assert.match(input?.saw ?? '', /^wireguard flannel-wg \(UDP 51820\): iptables-nft filter INPUT: -A INPUT -p udp -m udp --dport 51820 -j DROP/, JSON.stringify(fails));
      assert.match(input?.fix ?? '', /^iptables -D INPUT .*--dport 51820 -j DROP/, JSON.stringify(input));
      const n2 = node(2).underlayIP.replaceAll('.', '\\.');
      for (const i of [1, 3]) {
        const probe = fails.find((r) => r.node === `node${i}` && r.id === 'connectivity.peers');
        assert.match(probe?.saw ?? '', new RegExp(`via ${n2}: overlay .* no answer, underlay ${n2} \\(eth0\\) ok .*: UDP 51820 blocked on the path`), JSON.stringify(fails));
      }
      assert.deepEqual([...new Set(fails.map((r) => `${r.node} ${r.id}`))].sort(), ['node1 connectivity.peers', 'node2 connectivity.peers', 'node2 firewall.input-port', 'node3 connectivity.peers']);
      const path = lab(['--name', name, '--state-dir', stateDir, 'path', 'node1-pod1', 'node2-pod1']);
      assert.equal(path.status, 1, `${path.stdout}\n${path.stderr}`);
      assert.match(path.stdout, new RegExp(`\\npath broken at hop 9 \\(node2, INPUT\\): node2 drops the UDP 51820 from ${node(1).underlayIP.replaceAll('.', '\\.')} in INPUT: -A INPUT -p udp -m udp --dport 51820 -j DROP; "[^"]+ doctor node2" checks that node\\n$`), path.stdout);
    } finally {
      const healed = lab(['--name', name, '--state-dir', stateDir, 'heal']);
      assert.equal(healed.status, 0, healed.stderr);
    }
    assert.equal(doctor().status, 0);
  });

  it('a flanneld restart keeps the public key and the lease, and the peers need no change', async () => {
    const [n1, n2] = [node(1), node(2)];
    const key = wgDump(n2).publicKey;
    const leaseBefore = JSON.stringify(lease(n2));
    const seenBefore = JSON.stringify(wgDump(n1).peers.get(key), ['endpoint', 'allowedIPs', 'psk', 'keepalive']);
    const n1LogBefore = log(n1).length;
    await cluster.stopFlanneld(n2);
    await cluster.startFlanneld(n2);
    await cluster.waitReady(n2, 60_000);
    assert.match(log(n2), new RegExp(`reusing the WireGuard private key /run/flannel/wgkey; public key ${key.replace(/[+/]/g, '\\$&')}`));
    assert.equal(wgDump(n2).publicKey, key);
    assert.equal(JSON.stringify(lease(n2)), leaseBefore);
    await waitFor('pods on node2 reachable again', () => canPing(podOn(1).ns, podOn(2).ip) && canPing(podOn(2).ns, podOn(3).ip), 30_000);
    assert.equal(JSON.stringify(wgDump(n1).peers.get(key), ['endpoint', 'allowedIPs', 'psk', 'keepalive']), seenBefore);
    assert.doesNotMatch(log(n1).slice(n1LogBefore), /flannel-wg: configured/, 'node1 changed nothing on its device');
  });

  it('a killed wireguard-go is restarted, said in the log, and the peers reach the node again', async () => {
    const n3 = node(3);
    const pids = sh('ip', ['netns', 'pids', n3.ns]).split('\n').filter(Boolean);
    const commandOf = (pid: string): string => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      } catch {
        return ''; // exited since it was listed (a probe's curl, say)
      }
    };
    const go = pids.find((p) => commandOf(p).endsWith('wireguard-go'));
    assert.ok(go, 'wireguard-go runs in node3');
    process.kill(Number(go), 'SIGKILL');
    await waitFor('the restart line', () => /wireguard-go for flannel-wg restarted \(pid \d+, restart 1\)/.test(log(n3)), 60_000);
    assert.match(log(n3), new RegExp(`ERROR \\[wireguard-go\\] wireguard-go for flannel-wg was killed by SIGKILL; restarting it in 1 s pid=${go} `));
    await waitFor('pods on node3 reachable again', () => canPing(podOn(1).ns, podOn(3).ip) && canTcp(podOn(2).ns, podOn(3).ip), 30_000);
    assert.equal(wgDump(n3).peers.size, 2);
  });

  it('a vanished peer is removed from every device', async () => {
    const n3 = node(3);
    const key = wgDump(n3).publicKey;
    await cluster.stopFlanneld(n3);
    cluster.etcdctl(['del', `/coreos.com/network/subnets/${subnetOf(n3).replace('/', '-')}`]);
    for (const n of [node(1), node(2)]) {
      await waitFor(`${n.name} drops node3's peer`, () => !wgDump(n).peers.has(key), 30_000);
      assert.equal(wgDump(n).peers.size, 1);
    }
    assert.ok(canPing(podOn(1).ns, podOn(2).ip), 'the others still reach each other');
  });
});
