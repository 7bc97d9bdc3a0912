import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fail, ok, warn, type CheckSpec } from './check.ts';
import { parseDoctorArgs, runDoctor } from './doctor-command.ts';
import type { NodeFacts } from './facts.ts';

/** A run of the command with its output captured; gathering is replaced (these tests are about the command, not the node). */
async function run(argv: string[], checks: CheckSpec[]): Promise<{ code: number; out: string; err: string[]; gathered: unknown[] }> {
  let out = '';
  const err: string[] = [];
  const gathered: unknown[] = [];
  const code = await runDoctor(argv, {
    out: (t) => (out += t),
    err: (l) => err.push(l),
    env: {},
    checks,
    gather: async (o) => {
      gathered.push(o);
      return { hostname: 'n1' } as NodeFacts;
    },
  });
  return { code, out, err, gathered };
}

const healthy: CheckSpec = { id: 'a.fine', summary: 'always fine', run: () => ok('a.fine', 'all good') };
const wobbly: CheckSpec = { id: 'b.wobbly', summary: 'warns twice', run: () => [warn('b.wobbly', 'one', 'do x'), warn('b.wobbly', 'two', 'do y')] };
const broken: CheckSpec = { id: 'c.broken', summary: 'fails', run: () => fail('c.broken', 'bad', 'fix it') };
const crashing: CheckSpec = { id: 'd.crash', summary: 'throws', run: () => { throw new Error('boom'); } };

describe('flannel-ts doctor: command line', () => {
  it("splits doctor's options from flanneld's", () => {
    assert.deepEqual(parseDoctorArgs(['--json', '--iface', 'eth0', '--cni-conf-dir', '/c', '--cni-bin-dir=/b1,/b2', '--connectivity', '--ip-masq']), {
      json: true, connectivity: true, list: false, help: false, cniConfDir: '/c', cniBinDirs: ['/b1', '/b2'], flanneldFlags: ['--iface', 'eth0', '--ip-masq'],
    });
    assert.deepEqual(parseDoctorArgs([]).cniBinDirs, ['/opt/cni/bin', '/usr/lib/cni']);
    assert.equal(parseDoctorArgs([]).cniConfDir, '/etc/cni/net.d');
  });

  it('exit 0 when nothing failed (warnings included), the table on stdout', async () => {
    const r = await run([], [healthy, wobbly]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^ok {4}a\.fine {4}all good\nwarn {2}b\.wobbly {2}one\n {6}fix: do x\n/);
    assert.match(r.out, /\ndoctor: 1 ok, 2 warn, 0 fail, 0 skipped\n$/);
  });

  it('exit 1 when a check failed; a crashing check is a failure naming the bug', async () => {
    const r = await run(['--json'], [healthy, broken, crashing]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as { node: string; results: Array<{ id: string; status: string; saw: string }>; summary: Record<string, number> };
    assert.equal(report.node, 'n1');
    assert.deepEqual(report.results.map((x) => `${x.id}:${x.status}`), ['a.fine:ok', 'c.broken:fail', 'd.crash:fail']);
    assert.equal(report.results[2]?.saw, 'the check itself crashed: boom');
    assert.deepEqual(report.summary, { ok: 1, warn: 0, fail: 2, skip: 0 });
  });

  it('--list prints every check without gathering anything', async () => {
    const r = await run(['--list'], [healthy, wobbly]);
    assert.equal(r.code, 0);
    assert.equal(r.out, 'a.fine    always fine\nb.wobbly  warns twice\n');
    assert.deepEqual(r.gathered, []);
  });

  it("passes flanneld's flags, the CNI dirs and --connectivity to gathering", async () => {
    const r = await run(['--connectivity', '--etcd-endpoints=http://10.0.0.1:2379', '--cni-bin-dir', '/x'], [healthy]);
    assert.deepEqual(r.gathered, [{ flanneldFlags: ['--etcd-endpoints=http://10.0.0.1:2379'], cniConfDir: '/etc/cni/net.d', cniBinDirs: ['/x'], connectivity: true }]);
  });

  it('usage errors exit 2 with the error and a hint, before gathering', async () => {
    for (const [argv, message] of [
      [['--bogus'], "flannel-ts doctor: error: invalid command line: Unknown option '--bogus'"],
      [['--iface-regex=('], /^flannel-ts doctor: error: --iface-regex "\(" is not a valid regular expression/],
      [['--cni-conf-dir'], 'flannel-ts doctor: error: --cni-conf-dir needs a directory, e.g. --cni-conf-dir=/etc/cni/net.d'],
      [['--json=yes'], 'flannel-ts doctor: error: --json takes no value (got "--json=yes")'],
    ] as const) {
      const r = await run([...argv], [healthy]);
      assert.equal(r.code, 2, argv.join(' '));
      if (typeof message === 'string') assert.equal(r.err[0], message);
      else assert.match(r.err[0] ?? '', message);
      assert.match(r.err[1] ?? '', /^flannel-ts doctor: hint: /);
      assert.deepEqual(r.gathered, []);
      assert.equal(r.out, '');
    }
  });
});
