/**
 * flanneld (etcd mode, alloc backend) as real processes in a network namespace against a real
 * etcd in the same namespace: lease life cycle, subnet.env, health endpoints, bad input.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cidr } from '../../src/ip/index.ts';
import { Netns, uniquePrefix } from '../harness/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { etcdctl, startEtcd, type EtcdHandle } from '../harness/etcd.ts';
import { spawnFlanneld, type FlanneldProcess } from '../harness/flanneld.ts';
import { compileFlanneld } from '../../bench/src/build.ts';
import { BAD_FLAGS, BAD_NETCONFS, type BadCase } from '../fixtures/bad-configs.ts';

const skip = skipUnlessPrivileged(['etcd', 'curl']);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NETCONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"alloc"}}';

describe('flanneld with etcd (alloc backend)', { skip }, () => {
  const run = uniquePrefix('fltd');
  let ns: Netns;
  let etcd: EtcdHandle;
  let dir: string;
  const procs: FlanneldProcess[] = [];
  let prefixSeq = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `${run}-`));
    ns = Netns.create(run);
    ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    ns.exec('ip', ['link', 'set', 'eth0p', 'up']);
    ns.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
    ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    ns.exec('ip', ['route', 'add', 'default', 'via', '192.0.2.254', 'dev', 'eth0']);
    etcd = await startEtcd({ netns: ns.name });
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop(2000)));
    await etcd?.stop();
    ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ctl = (args: string[], input?: string): Promise<string> => etcdctl(etcd.endpoint, args, { netns: ns.name, ...(input ? { input } : {}) });
  const newPrefix = (): string => `/${run}-${++prefixSeq}/network`;
  const subnetFile = (name: string): string => join(dir, name, 'subnet.env');

  function flanneld(prefix: string, name: string, i: number, extra: string[] = [], env: Record<string, string> = {}, entry?: string[]): FlanneldProcess {
    const p = spawnFlanneld({
      netns: ns.name,
      ...(entry ? { entry } : {}),
      args: [
        `--etcd-endpoints=${etcd.endpoint}`,
        `--etcd-prefix=${prefix}`,
        '--iface=eth0',
        `--public-ip=192.0.2.${10 + i}`,
        `--subnet-file=${subnetFile(name)}`,
        '--iptables-forward-rules=false',
        '--healthz-ip=127.0.0.1',
        `--healthz-port=${9100 + i}`,
        '--log-format=text',
        ...extra,
      ],
      env,
    });
    procs.push(p);
    return p;
  }

  const httpStatus = (port: number, path: string): number =>
    Number(ns.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}${path}`]).trim());

  const subnetOf = (name: string): string => {
    const m = /FLANNEL_SUBNET=(\S+)/.exec(readFileSync(subnetFile(name), 'utf8'));
    assert.ok(m?.[1], `no FLANNEL_SUBNET in ${subnetFile(name)}`);
    return Cidr.parse(m[1]).toString();
  };

  const leaseKeys = async (prefix: string): Promise<string[]> =>
    (await ctl(['get', '--prefix', '--keys-only', `${prefix}/subnets/`])).split('\n').filter(Boolean);

  it('waits for the config key, then leases, writes subnet.env and turns ready', async () => {
    const prefix = newPrefix();
    const d = flanneld(prefix, 'wait', 1);
    await d.waitForLine(/network configuration.*failed, retrying/);
    assert.equal(httpStatus(9101, '/healthz'), 200);
    assert.equal(httpStatus(9101, '/readyz'), 503);
    assert.ok(!existsSync(subnetFile('wait')));
    await ctl(['put', `${prefix}/config`, NETCONF]);
    await d.waitForLine(/wrote .*subnet\.env/);
    const env = readFileSync(subnetFile('wait'), 'utf8');
    assert.match(env, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.\d+\.1\/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n$/);
    assert.equal(httpStatus(9101, '/readyz'), 200);
    const keys = await leaseKeys(prefix);
    assert.deepEqual(keys, [`${prefix}/subnets/${subnetOf('wait').replace('/', '-')}`]);
    const value = await ctl(['get', '--print-value-only', keys[0] ?? '']);
    assert.equal(value.trim(), '{"PublicIP":"192.0.2.11","PublicIPv6":null,"BackendType":"alloc"}');
    const st = await d.stop();
    assert.equal(st.code, 0, d.output());
    assert.deepEqual(await leaseKeys(prefix), keys, 'SIGTERM must keep the lease');
  });

  it('runs the same from the bundle `npm run build` ships (dist/cli/flanneld.js and its chunks)', async () => {
    // Inside the repository, so the packages left outside the bundle resolve from node_modules.
    const out = join(ROOT, 'node_modules/.cache/flannel-ts-test', run, 'dist');
    try {
      const { entry, typeErrors } = compileFlanneld(out);
      assert.equal(typeErrors, undefined);
      assert.ok(readdirSync(dirname(entry)).some((f) => f.startsWith('flanneld-chunk-')), 'the bundle has its lazily loaded chunks');
      const prefix = newPrefix();
      await ctl(['put', `${prefix}/config`, NETCONF]);
      const d = flanneld(prefix, 'bundle', 7, [], {}, [entry]);
      await d.waitForLine(/wrote .*subnet\.env/);
      assert.match(readFileSync(subnetFile('bundle'), 'utf8'), /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.\d+\.1\/24\n/);
      assert.equal(httpStatus(9107, '/readyz'), 200);
      assert.deepEqual(await leaseKeys(prefix), [`${prefix}/subnets/${subnetOf('bundle').replace('/', '-')}`]);
      const st = await d.stop();
      assert.equal(st.code, 0, d.output());
    } finally {
      rmSync(dirname(out), { recursive: true, force: true });
    }
  });

  it('waits while etcd is unreachable and proceeds when it comes back', async () => {
    const prefix = newPrefix();
    await ctl(['put', `${prefix}/config`, NETCONF]);
    await etcd.halt();
    const d = flanneld(prefix, 'etcd-down', 2);
    try {
      await d.waitForLine(/network configuration.*failed, retrying/);
    } finally {
      await etcd.resume();
    }
    await d.waitForLine(/wrote .*subnet\.env/, 30_000);
    await d.stop();
  });

  it('gets its old subnet back after a restart, from the lease or from subnet.env', async () => {
    const prefix = newPrefix();
    await ctl(['put', `${prefix}/config`, NETCONF]);
    const first = flanneld(prefix, 'restart', 3);
    await first.waitForLine(/wrote .*subnet\.env/);
    const before = subnetOf('restart');
    assert.equal((await first.stop()).code, 0);

    const second = flanneld(prefix, 'restart', 3);
    await second.waitForLine(/wrote .*subnet\.env/);
    assert.equal(subnetOf('restart'), before);
    await second.stop();

    // The lease vanished while the node was down (e.g. more than 24 h offline): subnet.env wins.
    await ctl(['del', '--prefix', `${prefix}/subnets/`]);
    const third = flanneld(prefix, 'restart', 3, ['--public-ip=192.0.2.99']);
    await third.waitForLine(/wrote .*subnet\.env/);
    assert.equal(subnetOf('restart'), before);
    await third.stop();
  });

  it('never hands out a reservation, and a full pool fails cleanly', async () => {
    const prefix = newPrefix();
    await ctl(['put', `${prefix}/config`, '{"Network":"10.10.0.0/28","SubnetLen":30,"Backend":{"Type":"alloc"}}']);
    // Pool: 10.10.0.4/30, .8/30, .12/30. Reserve .8 for another host.
    await ctl(['put', `${prefix}/subnets/10.10.0.8-30`, '{"PublicIP":"198.51.100.7","PublicIPv6":null,"BackendType":"alloc"}']);
    const a = flanneld(prefix, 'pool-a', 4);
    const b = flanneld(prefix, 'pool-b', 5);
    await Promise.all([a, b].map((d) => d.waitForLine(/wrote .*subnet\.env/)));
    assert.deepEqual([subnetOf('pool-a'), subnetOf('pool-b')].sort(), ['10.10.0.12/30', '10.10.0.4/30']);
    const c = flanneld(prefix, 'pool-c', 6);
    const st = await c.exited;
    assert.equal(st.code, 1, c.output());
    assert.match(c.output(), /flanneld: error: .*10\.10\.0\.0\/28.*/);
    assert.match(c.output(), /hint: /);
    assert.ok(!existsSync(subnetFile('pool-c')), 'a failed daemon must not write subnet.env');
    assert.equal((await leaseKeys(prefix)).length, 3);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('sees peers join and leave within 2 s, including a lease that expires', async () => {
    const prefix = newPrefix();
    await ctl(['put', `${prefix}/config`, NETCONF]);
    const a = flanneld(prefix, 'peer-a', 7);
    await a.waitForLine(/wrote .*subnet\.env/);
    const b = flanneld(prefix, 'peer-b', 8);
    await b.waitForLine(/wrote .*subnet\.env/);
    const bSubnet = subnetOf('peer-b');
    let t0 = Date.now();
    await a.waitForLine(new RegExp(`Subnet added: ${bSubnet.replace(/\./g, '\\.')} via 192\\.0\\.2\\.18`), 2000);
    assert.ok(Date.now() - t0 <= 2000);
    await b.stop();
    t0 = Date.now();
    await ctl(['del', `${prefix}/subnets/${bSubnet.replace('/', '-')}`]);
    await a.waitForLine(new RegExp(`Subnet removed: ${bSubnet.replace(/\./g, '\\.')}`), 2000);

    // A lease with a 2 s TTL that nobody renews.
    const leaseId = /lease ([0-9a-f]+) granted/.exec(await ctl(['lease', 'grant', '2']))?.[1];
    assert.ok(leaseId);
    await ctl(['put', `--lease=${leaseId}`, `${prefix}/subnets/10.244.200.0-24`, '{"PublicIP":"192.0.2.200","PublicIPv6":null,"BackendType":"alloc"}']);
    await a.waitForLine(/Subnet added: 10\.244\.200\.0\/24 via 192\.0\.2\.200/, 2000);
    await a.waitForLine(/Subnet removed: 10\.244\.200\.0\/24/, 6000);
    await a.stop();
  });

  describe('bad configuration: exact error, exit 1, nothing written', () => {
    const runCase = async (c: BadCase, idx: number): Promise<void> => {
      const prefix = newPrefix();
      const name = `bad-${idx}`;
      if (c.netconf !== undefined) await ctl(['put', `${prefix}/config`, c.netconf]);
      else await ctl(['put', `${prefix}/config`, NETCONF]);
      const d = flanneld(prefix, name, 60 + (idx % 30), c.args ?? [], c.env ?? {});
      const st = await d.exited;
      const expected = c.netconf !== undefined ? `flanneld: error: etcd key ${prefix}/config: ${c.error}` : `flanneld: error: ${c.error}`;
      assert.ok(d.lines.includes(expected), `expected line:\n${expected}\ngot:\n${d.output()}`);
      assert.equal(st.code, c.netconf !== undefined ? 1 : 2, d.output());
      assert.deepEqual(await leaseKeys(prefix), [], 'nothing may be written to etcd');
      assert.ok(!existsSync(subnetFile(name)), 'no subnet.env may be written');
    };
    const cases = [...BAD_NETCONFS, ...BAD_FLAGS];
    it(`rejects ${cases.length} bad configurations and flag combinations`, async () => {
      for (let i = 0; i < cases.length; i += 6) {
        await Promise.all(cases.slice(i, i + 6).map((c, j) => runCase(c, i + j).catch((err: Error) => {
          throw new Error(`case "${c.name}": ${err.message}`);
        })));
      }
    });
  });
});
