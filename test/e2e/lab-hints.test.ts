/**
 * `lab up` prints commands to try under "Try:": each is run exactly as printed and must show what
 * its comment promises, for labs of every kind (vxlan, host-gw, nftables, DirectRouting, udp,
 * extension; wireguard's run in test/e2e/wireguard.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../../src/lab/cluster.ts';
import { sh, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl', '/usr/lib/cni/bridge']);

const namespacesOf = (name: string): string[] => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${name}-`));
const processesMentioning = (text: string): string[] =>
  sh('ps', ['-eo', 'pid,args']).split('\n').filter((l) => l.includes(text) && !l.includes('ps -eo'));

/**
 * Every command `lab up` prints under "Try:" is run exactly as printed (a shell, from the
 * checkout, the built CLI as scripts/main.sh runs it) and must exit 0 with the output it promises.
 * Three small labs: vxlan/iptables under the default state directory; host-gw/nftables given
 * --name/--state-dir before the subcommand; then, replacing it, vxlan DirectRouting/nftables.
 */
describe('flannel-ts lab: every printed hint works as printed', { skip }, () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const CLI = 'node dist/cli/flannel-ts.js';
  const a = uniquePrefix('flh');
  const b = uniquePrefix('flh');
  let bDir: string;
  const shell = (line: string): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('sh', ['-c', line], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });

  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/flannel-ts.js')), 'dist/ is missing: run npm run build (scripts/setup.sh does)');
    bDir = join(mkdtempSync(join(tmpdir(), `${b}-`)), 'state');
  });
  after(() => {
    Cluster.down(a, `/run/flannel-ts/lab/${a}`);
    Cluster.down(b, bDir);
    rmSync(join(bDir, '..'), { recursive: true, force: true });
  });

  interface Built {
    name: string;
    stateDir: string;
    invocation: string;
    backend: string;
    directRouting: boolean;
    nftables: boolean;
    nodes: Array<{ name: string; subnet: string; firstIP: string; mac: string }>;
    pods: Array<{ name: string; ip: string }>;
    hints: string[];
  }

  function parseUp(out: string, o: Omit<Built, 'nodes' | 'pods' | 'hints'>): Built {
    const nodes = [...out.matchAll(/^(node\d+)\s+\S+\s+192\.168\.50\.\d+\s+(10\.244\.(\d+)\.1)\/24\s+(\S+)\s+running$/gm)].map((m) => ({
      name: m[1] as string,
      subnet: `10.244.${m[3]}.0/24`,
      firstIP: m[2] as string,
      mac: m[4] as string,
    }));
    const pods = [...out.matchAll(/^(node\d+-pod\d+)\s+node\d+\s+\S+\s+(10\.244\.\d+\.\d+)$/gm)].map((m) => ({ name: m[1] as string, ip: m[2] as string }));
    const tryAt = out.indexOf('\nTry:\n');
    assert.ok(tryAt >= 0, out);
    const hints = out.slice(tryAt + 6).split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2));
    assert.equal(nodes.length, 2, out);
    assert.equal(pods.length, 2, out);
    return { ...o, nodes, pods, hints };
  }

  /** Runs one hint and checks that it shows what it says it shows. Returns the command part. */
  function runHint(lab: Built, line: string): string {
    const command = line.replace(/ {2,}# .*$/, '').trimEnd();
    assert.ok(command.startsWith(`${lab.invocation} `), `"${line}" does not address lab ${lab.name} as ${lab.invocation}`);
    const r = shell(line);
    const what = `${line}\n--- exit ${r.status}\n${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, what);
    const sub = command.slice(lab.invocation.length + 1);
    const [n1, n2] = lab.nodes as [Built['nodes'][0], Built['nodes'][0]];
    const [p1, p2] = lab.pods as [Built['pods'][0], Built['pods'][0]];
    const tunnel = lab.backend === 'vxlan' && !lab.directRouting;
    if (sub === 'exec node1 -- ip route') {
      if (lab.backend === 'udp') {
        assert.ok(r.stdout.includes('10.244.0.0/16 dev flannel0'), what);
        assert.ok(line.includes(`# ${n2.subnet} (node2) inside 10.244.0.0/16, which goes to flannel0`), what);
      } else {
        assert.ok(r.stdout.includes(tunnel ? `${n2.subnet} via ${n2.firstIP.replace(/\.1$/, '.0')} dev flannel.1 onlink` : `${n2.subnet} via 192.168.50.12 dev eth0`), what);
        assert.ok(line.includes(`# ${n2.subnet} (node2) via`), what);
      }
    } else if (sub === 'exec node1 -- ip -s link show flannel0') {
      assert.equal(lab.backend, 'udp', what);
      assert.match(r.stdout, /^\d+: flannel0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1472 /, what);
      assert.match(r.stdout, /RX: {2}bytes/, what);
    } else if (sub === "exec node1 -- ss -uanp 'sport = :8285'") {
      assert.equal(lab.backend, 'udp', what);
      assert.match(r.stdout, /192\.168\.50\.11:8285 .*"node"/, what);
    } else if (sub === 'exec node1 -- bridge fdb show dev flannel.1') {
      assert.ok(tunnel, what);
      assert.ok(r.stdout.includes(`${n2.mac} dst 192.168.50.12 self permanent`), what);
    } else if (sub === 'exec node1 -- ip neigh show dev flannel.1') {
      assert.ok(tunnel, what);
      assert.ok(r.stdout.includes(`${n2.firstIP.replace(/\.1$/, '.0')} lladdr ${n2.mac} PERMANENT`), what);
    } else if (sub === 'exec node1 -- iptables -t nat -S FLANNEL-POSTRTG') {
      assert.ok(!lab.nftables, what);
      assert.match(r.stdout, /-A FLANNEL-POSTRTG -s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully/, what);
    } else if (sub === 'exec node1 -- iptables -S FLANNEL-FWD') {
      assert.ok(!lab.nftables, what);
      assert.match(r.stdout, /-A FLANNEL-FWD -s 10\.244\.0\.0\/16 .*-j ACCEPT/, what);
    } else if (sub === 'exec node1 -- nft list table ip flannel-ipv4') {
      assert.ok(lab.nftables, what);
      assert.match(r.stdout, /ip saddr 10\.244\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade fully-random/, what);
    } else if (sub === 'exec node1 -- cat /run/flannel/subnet.env') {
      assert.ok(r.stdout.includes(`FLANNEL_SUBNET=${n1.firstIP}/24`), what);
    } else if (sub === `exec node1-pod1 -- ping -c 3 ${p2.ip}`) {
      assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/, what);
    } else if (sub === 'path node1-pod1 node2-pod1') {
      assertPath(lab, r.stdout, what, p1, p2);
    } else if (sub === 'exec node1 -- conntrack -L') {
      assert.ok(r.stdout.includes(`dst=${p2.ip}`), what);
    } else if (sub === 'exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets') {
      for (const n of lab.nodes) assert.ok(r.stdout.includes(`/coreos.com/network/subnets/${n.subnet.replace('/', '-')}`), what);
    } else if (sub === 'doctor') {
      assert.match(r.stdout, /\ndoctor: \d+ ok, \d+ warn, 0 fail, \d+ skipped\n$/, what);
      for (const n of lab.nodes) assert.match(r.stdout, new RegExp(`^${n.name} +ok +flanneld\\.process `, 'm'), what);
    } else if (sub === 'break --list') {
      assert.match(r.stdout, /^ {2}udp-blocked /m, what);
      assert.match(r.stdout, /doctor fails: sysctl\.ip-forward\)/, what);
    } else if (sub === 'check') {
      assert.match(r.stdout, /2\/2 pod pairs reachable over ICMP and TCP/, what);
    } else if (sub === 'status') {
      assert.match(r.stdout, new RegExp(`== node2 \\(${lab.name}-n2\\)\\n-- ip route\\n`), what);
      assert.ok(r.stdout.includes(lab.nftables ? '-- nft list table ip flannel-ipv4' : '-- iptables -t nat -S FLANNEL-POSTRTG'), what);
      assert.equal(r.stdout.includes('-- bridge fdb show dev flannel.1'), lab.backend === 'vxlan', what);
      assert.equal(r.stdout.includes('-- ip -s link show flannel0\n'), lab.backend === 'udp', what);
    } else if (sub === 'down') {
      assert.match(r.stdout, new RegExp(`^removed lab "${lab.name}": `), what);
      assert.deepEqual(namespacesOf(lab.name), []);
      assert.deepEqual(processesMentioning(lab.stateDir), []);
      assert.ok(!existsSync(lab.stateDir), what);
    } else {
      assert.fail(`lab up printed a hint this test does not know; teach it what the output must show:\n${line}`);
    }
    return sub;
  }

  /** A hop of `lab path` as printed: number, where, step, ok or BREAKS, summary. */
  const pathHops = (out: string): Array<{ at: string; step: string; ok: boolean; summary: string }> =>
    [...out.matchAll(/^ *\d+ {2}(\S+) +(.+?) +(ok|BREAKS) {2,}(.*)$/gm)].map((m) => ({ at: m[1] as string, step: m[2] as string, ok: m[3] === 'ok', summary: m[4] as string }));

  /** `lab path node1-pod1 node2-pod1` on a healthy lab: every hop of its backend, each with its real object. */
  function assertPath(lab: Built, out: string, what: string, p1: Built['pods'][0], p2: Built['pods'][0]): void {
    const [, n2] = lab.nodes as [Built['nodes'][0], Built['nodes'][0]];
    const tunnel = lab.backend === 'vxlan' && !lab.directRouting;
    const udp = lab.backend === 'udp';
    const peerObject = tunnel ? ['node1 flannel.1', 'node1 FDB'] : udp ? ['node1 flannel0'] : ['node1 eth0'];
    const expected = [
      'node1-pod1 pod eth0', 'node1 veth', 'node1 cni0', 'node1 route', 'node1 FORWARD', 'node1 POSTROUTING', ...peerObject, 'underlay underlay',
      ...(tunnel || udp ? ['node2 INPUT'] : []), 'node2 route', 'node2 FORWARD', 'node2 cni0', 'node2 veth', 'node2-pod1 pod eth0',
    ];
    const hops = pathHops(out);
    assert.deepEqual(hops.map((h) => `${h.at} ${h.step}`), expected, what);
    assert.ok(hops.every((h) => h.ok), what);
    const summary = (at: string, step: string): string => hops.find((h) => h.at === at && h.step === step)?.summary ?? '';
    assert.equal(summary('node1-pod1', 'pod eth0'), `node1-pod1 sends it out of eth0 to its gateway ${lab.nodes[0]?.firstIP}`, what);
    if (tunnel) {
      const vtep = n2.firstIP.replace(/\.1$/, '.0');
      assert.equal(summary('node1', 'route'), `node1 routes it into flannel.1 towards ${vtep}, node2's VTEP address (onlink): VXLAN`, what);
      assert.ok(out.includes(`$ ip neigh show ${vtep} dev flannel.1\n`) && out.includes(`${vtep} lladdr ${n2.mac} PERMANENT`), what);
      assert.ok(out.includes(`$ bridge fdb show dev flannel.1\n`) && out.includes(`${n2.mac} dst 192.168.50.12 self permanent`), what);
      assert.equal(summary('underlay', 'underlay'), 'VXLAN: the pod packet inside UDP 8472, from node1 (192.168.50.11) to node2 (192.168.50.12) out of eth0', what);
      assert.equal(summary('node2', 'INPUT'), 'node2 takes the UDP 8472 from 192.168.50.11 in: -P INPUT ACCEPT', what);
    } else if (udp) {
      assert.match(summary('node1', 'route'), /^node1 routes it into flannel0: flanneld's TUN device/, what);
      assert.ok(out.includes(`$ etcdctl --endpoints=http://192.168.50.2:2379 get /coreos.com/network/subnets/${n2.subnet.replace('/', '-')}\n`), what);
      assert.equal(summary('underlay', 'underlay'), "flanneld's UDP encapsulation: the pod packet inside UDP 8285, from node1 (192.168.50.11) to node2 (192.168.50.12) out of eth0", what);
    } else {
      assert.equal(summary('node1', 'route'), `node1 routes ${n2.subnet} via 192.168.50.12 (node2) out of eth0: a host route, no tunnel`, what);
      assert.ok(out.includes('$ ip neigh show 192.168.50.12 dev eth0\n'), what);
      assert.equal(summary('underlay', 'underlay'), 'plain routed IP: the pod packet itself, from node1 (192.168.50.11) to node2 (192.168.50.12) out of eth0', what);
    }
    assert.ok(out.includes(`$ ip route get ${p2.ip} from ${p1.ip} iif cni0\n`), what);
    assert.ok(out.includes(lab.nftables ? '$ nft list chain ip flannel-ipv4 forward; iptables -S FORWARD\n' : '$ iptables -S FORWARD; iptables -S FLANNEL-FWD\n'), what);
    assert.match(summary('node1', 'FORWARD'), lab.nftables ? /^node1 forwards it: nft flannel-ipv4 forward: ip saddr 10\.244\.0\.0\/16 accept; iptables FORWARD: -P FORWARD ACCEPT$/ : /^node1 forwards it: iptables FORWARD: -A FORWARD -j FLANNEL-FWD → -A FLANNEL-FWD -s 10\.244\.0\.0\/16 -j ACCEPT$/, what);
    assert.ok(summary('node1', 'POSTROUTING').startsWith(`not masqueraded, pod to pod keeps ${p1.ip}: `), what);
    assert.equal(summary('node2', 'route'), `node2 takes it from ${tunnel ? 'flannel.1' : udp ? 'flannel0' : 'eth0'} and routes it to cni0, node2-pod1's bridge`, what);
    assert.equal(summary('node2-pod1', 'pod eth0'), `node2-pod1 holds ${p2.ip} on eth0: delivered`, what);
    assert.ok(out.endsWith(`\npath complete: node1-pod1 reaches node2-pod1 in ${expected.length} hops\n`), what);
  }

  function runAll(lab: Built, except: string[] = []): string[] {
    const ran: string[] = [];
    for (const h of lab.hints) {
      const sub = h.replace(/ {2,}# .*$/, '').slice(lab.invocation.length + 1);
      if (except.includes(sub)) continue;
      ran.push(runHint(lab, h));
    }
    return ran;
  }

  const flanneldPids = (stateDir: string): string[] => ['node1', 'node2'].map((n) => sh('cat', [join(stateDir, n, 'flanneld.pid')]));

  it('vxlan + iptables, default state directory: every hint, down last', () => {
    const up = shell(`${CLI} lab up --name ${a} --nodes 2 --pods 1`);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const built = parseUp(up.stdout, { name: a, stateDir: `/run/flannel-ts/lab/${a}`, invocation: `${CLI} lab --name ${a}`, backend: 'vxlan', directRouting: false, nftables: false });
    const ran = runAll(built, ['down']);
    assert.deepEqual(ran, [
      'exec node1 -- ip route',
      'exec node1 -- bridge fdb show dev flannel.1',
      'exec node1 -- ip neigh show dev flannel.1',
      'exec node1 -- iptables -t nat -S FLANNEL-POSTRTG',
      'exec node1 -- iptables -S FLANNEL-FWD',
      'exec node1 -- cat /run/flannel/subnet.env',
      `exec node1-pod1 -- ping -c 3 ${built.pods[1]?.ip}`,
      'exec node1 -- conntrack -L',
      'path node1-pod1 node2-pod1',
      'exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets',
      'doctor',
      'break --list',
      'check',
      'status',
    ]);
    const inv = built.invocation;
    const [p1, p2] = built.pods as [Built['pods'][0], Built['pods'][0]];

    // Two pods on one node: the bridge carries the frame, no route, no tunnel.
    const added = shell(`${inv} pod add node1`);
    assert.equal(added.status, 0, added.stdout + added.stderr);
    try {
      const extra = /^added (node1-pod\d+) on node1 with IP (\S+) /.exec(added.stdout);
      assert.ok(extra, added.stdout);
      const same = shell(`${inv} path node1-pod1 ${extra[1]}`);
      assert.equal(same.status, 0, same.stdout + same.stderr);
      const bridged = sh('ip', ['netns', 'exec', `${a}-n1`, 'sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']).trim() === '1';
      assert.deepEqual(
        pathHops(same.stdout).map((h) => `${h.at} ${h.step} ${h.ok}`),
        ['node1-pod1 pod eth0 true', 'node1 veth true', 'node1 cni0 true', ...(bridged ? ['node1 FORWARD true'] : []), 'node1 veth true', `${extra[1]} pod eth0 true`],
        same.stdout,
      );
      assert.ok(same.stdout.includes(`${extra[2]} is on node1-pod1's own subnet: out of eth0 straight to ${extra[1]}`), same.stdout);
      assert.match(same.stdout, /\n +\$ bridge fdb show br cni0 brport veth\w+\n/, same.stdout);
      assert.ok(same.stdout.endsWith(`\npath complete: node1-pod1 reaches ${extra[1]} in ${bridged ? 6 : 5} hops\n`), same.stdout);
    } finally {
      const extra = /^added (node1-pod\d+) /.exec(added.stdout)?.[1];
      if (extra) assert.equal(shell(`${inv} pod delete ${extra}`).status, 0);
    }

    // A fault: node1 loses its route to node2's subnet; the path breaks at node1's routing decision.
    const broke = shell(`${inv} break peer-route-missing node1`);
    assert.equal(broke.status, 0, broke.stdout + broke.stderr);
    try {
      const r = shell(`${inv} path node1-pod1 node2-pod1`);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const n2 = built.nodes[1] as Built['nodes'][0];
      assert.ok(
        r.stdout.endsWith(`\npath broken at hop 4 (node1, route): no route of the fabric for ${n2.subnet}: only the default route via 192.168.50.1 matches, so it would leave for the lab's gateway; "${inv} doctor node1" checks that node\n`),
        r.stdout,
      );
      const json = shell(`${inv} path node1-pod1 node2-pod1 --json`);
      assert.equal(json.status, 1, json.stderr);
      const path = JSON.parse(json.stdout) as { complete: boolean; hops: Array<{ at: string; step: string; command: string; object: string; ok: boolean }> };
      assert.equal(path.complete, false);
      assert.deepEqual(path.hops.map((h) => h.ok), [true, true, true, false]);
      assert.deepEqual(path.hops.at(-1), {
        at: 'node1',
        step: 'route',
        summary: `no route of the fabric for ${n2.subnet}: only the default route via 192.168.50.1 matches, so it would leave for the lab's gateway`,
        command: `ip route get ${p2.ip} from ${p1.ip} iif cni0`,
        object: `${p2.ip} from ${p1.ip} via 192.168.50.1 dev eth0\n    cache iif cni0`,
        ok: false,
      });
    } finally {
      const healed = shell(`${inv} heal`);
      assert.equal(healed.status, 0, healed.stdout + healed.stderr);
    }
    const again = shell(`${inv} path node1-pod1 node2-pod1`);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(runHint(built, built.hints.at(-1) ?? ''), 'down');
  });

  it('host-gw + nftables with --name/--state-dir before the subcommand; lab up again: same options re-probes, other options refuse, --replace (as hinted) rebuilds', () => {
    const inv = `${CLI} lab --name ${b} --state-dir ${bDir}`;
    const up = shell(`${inv} up --backend host-gw --nftables --nodes 2 --pods 1`);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const built = parseUp(up.stdout, { name: b, stateDir: bDir, invocation: inv, backend: 'host-gw', directRouting: false, nftables: true });
    assert.ok(!built.hints.some((h) => /iptables|flannel\.1/.test(h)), built.hints.join('\n'));
    assert.deepEqual(runAll(built, ['down']), [
      'exec node1 -- ip route',
      'exec node1 -- nft list table ip flannel-ipv4',
      'exec node1 -- cat /run/flannel/subnet.env',
      `exec node1-pod1 -- ping -c 3 ${built.pods[1]?.ip}`,
      'exec node1 -- conntrack -L',
      'path node1-pod1 node2-pod1',
      'exec etcd -- etcdctl get --prefix --keys-only /coreos.com/network/subnets',
      'doctor',
      'break --list',
      'check',
      'status',
    ]);
    const pids = flanneldPids(bDir);
    const namespaces = namespacesOf(b);

    const same = shell(`${CLI} lab up --nodes 2 --backend host-gw --pods 1 --nftables --name ${b} --state-dir ${bDir}`);
    assert.equal(same.status, 0, same.stdout + same.stderr);
    assert.match(same.stderr, new RegExp(`^\\[lab\\] lab "${b}" is already up with these options: probing it again instead of rebuilding \\(--replace rebuilds it\\)\\n`));
    assert.match(same.stdout, /2\/2 pod pairs reachable over ICMP and TCP/);
    assert.deepEqual(parseUp(same.stdout, built).hints, built.hints);
    assert.deepEqual(flanneldPids(bDir), pids, 'nothing was rebuilt');

    const other = shell(`${inv} up`);
    assert.equal(other.status, 1, other.stdout + other.stderr);
    assert.equal(
      other.stderr,
      `flannel-ts: error: lab "${b}" is already up, built with: --nodes 2 --pods 1 --backend host-gw --nftables --network 10.244.0.0/16; this lab up asks for: --nodes 3 --pods 2 --backend vxlan --network 10.244.0.0/16. Nothing was changed\n` +
        `flannel-ts: hint: remove it first with "${inv} down", or replace it in one step with "${inv} up --replace --nodes 3 --pods 2 --backend vxlan --network 10.244.0.0/16"\n`,
    );
    assert.deepEqual(flanneldPids(bDir), pids, 'a refused lab up changes nothing');
    assert.deepEqual(namespacesOf(b), namespaces);

    const small = shell(`${inv} up --nodes 2 --pods 1 --direct-routing --nftables`);
    assert.equal(small.status, 1, small.stdout + small.stderr);
    const replace = /or replace it in one step with "([^"]+)"\n$/.exec(small.stderr)?.[1];
    assert.equal(replace, `${inv} up --replace --nodes 2 --pods 1 --backend vxlan --direct-routing --nftables --network 10.244.0.0/16`);
    const replaced = shell(replace);
    assert.equal(replaced.status, 0, replaced.stdout + replaced.stderr);
    assert.match(replaced.stderr, new RegExp(`^\\[lab\\] --replace: removing lab "${b}" \\(--nodes 2 --pods 1 --backend host-gw --nftables --network 10\\.244\\.0\\.0/16\\)\\n`));
    assert.match(replaced.stdout, new RegExp(`lab "${b}": 2 nodes, backend vxlan \\(DirectRouting\\), network 10\\.244\\.0\\.0/16, nftables, `));
    assert.notDeepEqual(flanneldPids(bDir), pids);
    const rebuilt = parseUp(replaced.stdout, { name: b, stateDir: bDir, invocation: inv, backend: 'vxlan', directRouting: true, nftables: true });
    assert.ok(!rebuilt.hints.some((h) => /iptables|flannel\.1/.test(h)), rebuilt.hints.join('\n'));
    assert.equal(runAll(rebuilt).at(-1), 'down');
  });

  it('udp and extension (host-gw in shell): every hint, down last', () => {
    for (const backend of ['udp', 'extension']) {
      const c = uniquePrefix('flh');
      try {
        const up = shell(`${CLI} lab up --name ${c} --backend ${backend} --nodes 2 --pods 1`);
        assert.equal(up.status, 0, up.stdout + up.stderr);
        const built = parseUp(up.stdout, { name: c, stateDir: `/run/flannel-ts/lab/${c}`, invocation: `${CLI} lab --name ${c}`, backend, directRouting: false, nftables: false });
        if (backend === 'extension') assert.ok(built.hints[0]?.endsWith('added by the SubnetAddCommand "ip route replace $SUBNET via $PUBLIC_IP dev eth0"'), built.hints[0]);
        assert.equal(runAll(built).at(-1), 'down');
      } finally {
        Cluster.down(c, `/run/flannel-ts/lab/${c}`);
      }
    }
  });
});
