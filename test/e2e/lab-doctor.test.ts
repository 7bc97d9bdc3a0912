/**
 * `lab doctor`, `lab break` and `lab heal` through the built CLI on one 2-node vxlan lab: the
 * healthy lab passes clean; every fault of the catalogue, injected on node2, makes doctor fail
 * exactly the checks the fault names (each with a fix), and `lab heal` makes it clean again; a
 * fault injected by hand (lab exec with iptables / sysctl) is found the same way and the printed
 * fix mends it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../../src/lab/cluster.ts';
import { FAULTS } from '../../src/lab/faults.ts';
import { addLabPod } from '../../src/lab/lab-pods.ts';
import { Netns, sh, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const skip = skipUnlessPrivileged(['etcd', 'etcdctl', 'iptables', 'curl', '/usr/lib/cni/bridge']);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Result {
  node: string;
  id: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  saw: string;
  fix?: string;
}
interface Report {
  nodes: Array<{ node: string; results: Result[]; summary: Record<string, number> }>;
  summary: { ok: number; warn: number; fail: number; skip: number };
}

const namespacesOf = (name: string): string[] => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${name}-`));

describe('lab doctor / break / heal (vxlan, 2 nodes)', { skip }, () => {
  const name = uniquePrefix('fld');
  let stateDir: string;
  const lab = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, ['dist/cli/flannel-ts.js', 'lab', '--name', name, '--state-dir', stateDir, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  const show = (r: { status: number | null; stdout: string; stderr: string }): string => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

  function doctorJson(node?: string): { status: number | null; report: Report; text: string } {
    const r = lab('doctor', '--json', ...(node ? [node] : []));
    assert.ok(r.status === 0 || r.status === 1, show(r));
    return { status: r.status, report: JSON.parse(r.stdout) as Report, text: show(r) };
  }
  const failed = (report: Report): string[] => [...new Set(report.nodes.flatMap((n) => n.results.filter((x) => x.status === 'fail').map((x) => x.id)))].sort();

  function assertClean(node?: string): void {
    const r = lab('doctor', ...(node ? [node] : []));
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /\ndoctor: \d+ ok, \d+ warn, 0 fail, \d+ skipped\n$/, show(r));
    assert.doesNotMatch(r.stdout, /^node\d+\s+fail\s/m, show(r));
  }

  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/flannel-ts.js')), 'dist/ is missing: run npm run build (scripts/setup.sh does)');
    stateDir = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'state');
  });
  after(() => {
    for (const ns of namespacesOf(name).filter((n) => /-p9$/.test(n))) new Netns(ns).delete();
    Cluster.down(name, stateDir);
    rmSync(join(stateDir, '..'), { recursive: true, force: true });
  });

  it('lab up prints doctor\'s summary under the matrix; lab doctor passes clean on every node', () => {
    const up = lab('up', '--nodes', '2', '--pods', '1');
    assert.equal(up.status, 0, show(up));
    assert.match(up.stdout, /2\/2 pod pairs reachable over ICMP and TCP[^\n]*\n2\/2 node pairs reachable: every node pinged every other node's cni0 address over the fabric[^\n]*\n+doctor: \d+ ok, \d+ warn, 0 fail, \d+ skipped\n/, show(up));
    assertClean();
    const { status, report } = doctorJson();
    assert.equal(status, 0);
    assert.deepEqual(report.nodes.map((n) => n.node), ['node1', 'node2']);
    for (const n of report.nodes) {
      assert.ok(n.results.length > 10, JSON.stringify(n));
      for (const r of n.results) assert.equal(r.node, n.node);
    }
    const total = report.nodes.flatMap((n) => n.results);
    assert.deepEqual(report.summary, { ok: total.filter((r) => r.status === 'ok').length, warn: total.filter((r) => r.status === 'warn').length, fail: 0, skip: total.filter((r) => r.status === 'skip').length });
  });

  for (const fault of FAULTS) {
    it(`${fault.id}: doctor on node2 fails exactly ${fault.checks.join(', ')}, each with a fix; lab heal makes it clean`, () => {
      const broke = lab('break', fault.id, 'node2');
      assert.equal(broke.status, 0, show(broke));
      assert.match(broke.stdout, new RegExp(`^injected ${fault.id} on node2: `), show(broke));
      try {
        const { status, report, text } = doctorJson('node2');
        assert.equal(status, 1, text);
        assert.deepEqual(report.nodes.map((n) => n.node), ['node2']);
        assert.deepEqual(failed(report), [...fault.checks].sort(), text);
        for (const r of report.nodes[0]?.results.filter((x) => x.status === 'fail') ?? []) assert.ok(r.fix && r.fix.trim().length > 0, `${r.id} fails without a fix: ${JSON.stringify(r)}`);
        // What lab status says of an injected fault is the same for every fault: asked once, it saves a status per fault.
        if (fault === FAULTS[0]) {
          const status2 = lab('status');
          assert.match(status2.stdout, new RegExp(`faults injected by lab break: node2: ${fault.id}; `), show(status2));
        }
      } finally {
        const healed = lab('heal', fault.id, 'node2');
        assert.equal(healed.status, 0, show(healed));
        assert.equal(healed.stdout, `healed ${fault.id} on node2\n`, show(healed));
      }
      assertClean('node2');
    });
  }

  it('breaking twice changes nothing; lab heal alone heals everything injected', () => {
    const rules = (): number => sh('ip', ['netns', 'exec', `${name}-n2`, 'iptables', '-S', 'INPUT']).split('\n').filter((l) => l.includes('--dport 8472') && l.includes('DROP')).length;
    assert.equal(lab('break', 'udp-blocked', 'node2').status, 0);
    const again = lab('break', 'udp-blocked', 'node2');
    assert.equal(again.stdout, 'udp-blocked is already injected on node2: nothing changed\n', show(again));
    assert.equal(rules(), 1);
    assert.equal(lab('break', 'stray-conflist', 'node2').status, 0);
    const { report } = doctorJson('node2');
    assert.deepEqual(failed(report), ['cni.conflist', 'firewall.input-port']);
    const healed = lab('heal');
    assert.equal(healed.stdout, 'healed stray-conflist on node2, udp-blocked on node2\n', show(healed));
    assert.equal(rules(), 0);
    assert.equal(lab('heal').stdout, 'nothing to heal: lab break injected no fault on any node\n');
    assertClean('node2');
  });

  it('cni-plugin-missing and stray-conflist are real: a pod cannot be created on node2 while they are in', () => {
    const cluster = Cluster.load(stateDir);
    const node2 = cluster.node('node2');
    for (const [fault, error] of [
      ['cni-plugin-missing', /CNI ADD failed in plugin "flannel".*bridge/s],
      ['stray-conflist', /CNI ADD failed in plugin "calico".*plugin not found in CNI_PATH/s],
    ] as const) {
      assert.equal(lab('break', fault, 'node2').status, 0);
      try {
        assert.throws(() => addLabPod(cluster, node2, 9), error);
      } finally {
        new Netns(`${node2.ns}-p9`).delete();
        assert.equal(lab('heal', fault, 'node2').status, 0);
      }
    }
  });

  it('faults injected by hand with lab exec are found the same way, and the printed fix mends them', () => {
    const exec = (...cmd: string[]): void => {
      const r = lab('exec', 'node2', '--', ...cmd);
      assert.equal(r.status, 0, show(r));
    };
    exec('iptables', '-I', 'INPUT', '-p', 'udp', '--dport', '8472', '-j', 'REJECT');
    exec('sysctl', '-qw', 'net.ipv4.ip_forward=0');
    const { status, report, text } = doctorJson('node2');
    assert.equal(status, 1, text);
    assert.deepEqual(failed(report), ['firewall.input-port', 'sysctl.ip-forward'], text);
    // The fixes doctor prints, run on the node as printed.
    const fixOf = (id: string): string => report.nodes[0]?.results.find((r) => r.id === id)?.fix ?? '';
    for (const [id, command] of [
      ['sysctl.ip-forward', /sysctl -w net\.ipv4\.ip_forward=1/],
      ['firewall.input-port', /iptables -D INPUT .*--dport 8472 .*-j REJECT[^;&(]*/],
    ] as const) {
      const printed = command.exec(fixOf(id))?.[0]?.trim();
      assert.ok(printed, `the fix of ${id} names no command: ${fixOf(id)}`);
      exec('sh', '-c', printed);
    }
    assertClean('node2');
  });

  it('lab down leaves nothing', () => {
    const r = lab('down');
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(namespacesOf(name), []);
    assert.ok(!existsSync(stateDir));
  });
});
