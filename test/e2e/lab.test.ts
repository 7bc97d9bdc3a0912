/**
 * The main job end to end, through the real CLI: `flannel-ts lab up` for vxlan and host-gw,
 * the full pod matrix, pod re-creation, flanneld restart, and a `lab down` that leaves nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, programArgv } from '../../src/lab/cluster.ts';
import { addLabPod, deleteLabPod, loadPods, prepareCniPath, savePods } from '../../src/lab/lab-pods.ts';
import { canPing, canTcp } from '../../src/lab/probe.ts';
import { sh, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl', '/usr/lib/cni/bridge']);

function lab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...rest] = programArgv('flannel-ts');
  return spawnSync(cmd as string, [...rest, 'lab', ...args], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8', timeout: 240_000 });
}

const namespacesOf = (name: string): string[] => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${name}-`));
const processesMentioning = (text: string): string[] =>
  sh('ps', ['-eo', 'pid,args']).split('\n').filter((l) => l.includes(text) && !l.includes('ps -eo'));
const rootLinks = (): string[] => sh('ip', ['-o', 'link', 'show']).split('\n').map((l) => l.split(':')[1]?.trim() ?? '').filter(Boolean).sort();

for (const backend of ['vxlan', 'host-gw']) {
  describe(`flannel-ts lab (${backend})`, { skip }, () => {
    const name = uniquePrefix('fll');
    let stateDir: string;
    let linksBefore: string[];

    before(() => {
      stateDir = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'state');
      linksBefore = rootLinks();
    });
    after(() => {
      Cluster.down(name, stateDir);
      rmSync(join(stateDir, '..'), { recursive: true, force: true });
    });

    it('lab up builds 3 nodes x 2 pods and every pod pair passes ICMP and TCP', () => {
      const r = lab(['up', '--name', name, '--state-dir', stateDir, '--backend', backend, '--nodes', '3', '--pods', '2']);
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /30\/30 pod pairs reachable over ICMP and TCP/);
      assert.doesNotMatch(r.stdout, /FAIL/);
      assert.match(r.stderr, /\[lab\] creating pod node3-pod2 through the CNI plugin/);
      for (const n of [1, 2, 3]) assert.match(r.stdout, new RegExp(`node${n}\\s+${name}-n${n}\\s+192\\.168\\.50\\.1${n}\\s+10\\.244\\.\\d+\\.1/24`));
      assert.equal(loadPods(stateDir).length, 6);
    });

    it('a pod deleted and recreated gets its connectivity back', () => {
      const cluster = Cluster.load(stateDir);
      const pods = loadPods(stateDir);
      const cniPath = prepareCniPath(stateDir);
      const victim = pods.find((p) => p.name === 'node2-pod1');
      assert.ok(victim);
      deleteLabPod(cluster.node('node2'), victim, cniPath);
      assert.ok(!namespacesOf(name).includes(victim.ns));
      const reborn = addLabPod(cluster, cluster.node('node2'), 1, cniPath);
      savePods(stateDir, pods.map((p) => (p.name === reborn.name ? reborn : p)));
      const from = pods.find((p) => p.name === 'node1-pod1');
      assert.ok(from);
      assert.ok(canPing(from.ns, reborn.ip) && canTcp(from.ns, reborn.ip));
      assert.ok(canPing(reborn.ns, from.ip) && canTcp(reborn.ns, from.ip));
    });

    it('a restarted flanneld keeps its subnet and the matrix stays green', async () => {
      const cluster = Cluster.load(stateDir);
      const node = cluster.node('node1');
      const subnetBefore = sh('cat', [node.subnetFile]);
      await cluster.stopFlanneld(node);
      await cluster.startFlanneld(node);
      await cluster.waitReady(node);
      assert.equal(sh('cat', [node.subnetFile]), subnetBefore);
      const r = lab(['check', '--name', name, '--state-dir', stateDir]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /30\/30 pod pairs reachable/);
    });

    it('lab status shows routes, FDB and rules; lab exec runs commands there', () => {
      const s = lab(['status', '--name', name, '--state-dir', stateDir]);
      assert.equal(s.status, 0, s.stderr);
      assert.match(s.stdout, /== node1 .*\n-- ip route\ndefault via 192\.168\.50\.1 dev eth0/);
      assert.match(s.stdout, /-A FLANNEL-POSTRTG -s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully/);
      if (backend === 'vxlan') assert.match(s.stdout, /[0-9a-f:]{17} dst 192\.168\.50\.1\d self permanent/);
      const e = lab(['exec', '--name', name, '--state-dir', stateDir, 'node1-pod1', '--', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      assert.equal(e.status, 0, e.stderr);
      assert.match(e.stdout, /eth0\s+inet 10\.244\.\d+\.\d+\/24/);
      const bad = lab(['exec', '--name', name, '--state-dir', stateDir, 'node9', '--', 'true']);
      assert.equal(bad.status, 2, 'a target that is not there is a command-line mistake');
      assert.match(bad.stderr, new RegExp(`flannel-ts: error: no node or pod "node9" in lab "${name}" \\(nodes: node1, node2, node3; pods: node1-pod1, node1-pod2, node2-pod1, node2-pod2, node3-pod1, node3-pod2; also etcd and switch\\)`));
    });

    it('lab down leaves no namespace, process, file or kernel object behind', () => {
      const r = lab(['down', '--name', name, '--state-dir', stateDir]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`removed lab "${name}"`));
      assert.deepEqual(namespacesOf(name), []);
      assert.deepEqual(processesMentioning(stateDir), []);
      assert.ok(!existsSync(stateDir));
      assert.deepEqual(rootLinks(), linksBefore);
      assert.equal(lab(['down', '--name', name, '--state-dir', stateDir]).status, 0, 'down twice is fine');
    });
  });
}

describe('flannel-ts lab after a crash', { skip }, () => {
  const name = uniquePrefix('flc');
  let stateDir: string;
  before(() => {
    stateDir = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'state');
  });
  after(() => {
    Cluster.down(name, stateDir);
    rmSync(join(stateDir, '..'), { recursive: true, force: true });
  });

  it('lab down cleans up a lab whose processes were killed and whose state file is gone', () => {
    const up = lab(['up', '--name', name, '--state-dir', stateDir, '--nodes', '2', '--pods', '1']);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    for (const line of processesMentioning(stateDir)) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
    unlinkSync(join(stateDir, 'lab.json'));
    const refused = lab(['up', '--name', name, '--state-dir', stateDir, '--nodes', '2', '--pods', '1']);
    assert.equal(refused.status, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`flannel-ts: error: namespaces of a lab "${name}" exist \\(${name}-\\S+, .*\\) but no lab state describes them \\(none in ${stateDir}, and no running process of theirs names one\\): a crash or a kill left them\n`));
    assert.match(refused.stderr, new RegExp(`flannel-ts: hint: remove it first with "node --import tsx src/cli/flannel-ts\\.ts lab --name ${name} --state-dir ${stateDir} down", or replace it in one step with "node --import tsx src/cli/flannel-ts\\.ts lab --name ${name} --state-dir ${stateDir} up --replace --nodes 2 --pods 1 --backend vxlan --network 10\\.244\\.0\\.0/16"\n`));
    const down = lab(['down', '--name', name, '--state-dir', stateDir]);
    assert.equal(down.status, 0, down.stderr);
    assert.deepEqual(namespacesOf(name), []);
    assert.deepEqual(processesMentioning(stateDir), []);
    assert.ok(!existsSync(stateDir));
  });

  it('a failing step names itself and its likely cause, and cleans up', () => {
    const r = lab(['up', '--name', name, '--state-dir', stateDir, '--nodes', '1', '--etcd-endpoints', 'http://192.168.50.250:2379']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /flannel-ts: error: lab step "starting 1 node \(vxlan, iptables, 10\.244\.0\.0\/16\)" failed: /);
    assert.match(r.stderr, /flannel-ts: hint: is the etcd at http:\/\/192\.168\.50\.250:2379 up and reachable from the lab underlay \(192\.168\.50\.0\/24\)\? If flanneld failed, the error above ends with its last log lines; --keep-on-failure keeps the logs\n/);
    assert.match(r.stderr, /\[lab\] cleaning up after the failure/);
    assert.deepEqual(namespacesOf(name), []);
  });
});
