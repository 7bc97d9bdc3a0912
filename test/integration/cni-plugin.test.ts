/**
 * The compiled flannel CNI plugin with the real bridge/host-local/portmap plugins (Debian's
 * containernetworking-plugins in /usr/lib/cni), 20 pods in throwaway namespaces: ADD, CHECK,
 * pod-to-pod ping over cni0, DEL, DEL again; the shipped conflist (flannel then portmap) for one
 * pod; STATUS; and start-up cost against calling bridge directly.
 *
 * Nothing touches the host: cni0, veths and iptables rules live in a node namespace the test
 * creates; subnet.env, the plugin's dataDir and host-local's dataDir live in a temp dir. host-local
 * is pointed there through the flannel configuration's top-level `ipam.dataDir`, which flannel
 * (like upstream) keeps when it generates the delegate's ipam section.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, deleteNamespaces, uniquePrefix } from '../harness/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const CNI_BIN = '/usr/lib/cni';
const skip = skipUnlessPrivileged(['ip', 'ping', 'iptables', `${CNI_BIN}/bridge`, `${CNI_BIN}/host-local`, `${CNI_BIN}/portmap`]);
const PODS = 20;
const root = new URL('../..', import.meta.url).pathname;
const conflist = JSON.parse(readFileSync(join(root, 'deploy/cni/10-flannel.conflist'), 'utf8')) as {
  name: string;
  cniVersion: string;
  plugins: Array<Record<string, unknown>>;
};

interface CniRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface PodInfo {
  ns: Netns;
  id: string;
  ip: string;
  result: Record<string, unknown>;
}

describe('flannel CNI plugin with the real bridge plugin', { skip }, () => {
  const prefix = uniquePrefix('fltcni');
  let dir: string;
  let plugin: string;
  let node: Netns;
  let flannelConf: Record<string, unknown>;
  const pods: PodInfo[] = [];

  /** Runs `bin` in the node namespace the way a runtime does (env + stdin). */
  function cni(bin: string, command: string, stdin: string, env: Record<string, string>): Promise<CniRun> {
    return new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      const child = spawn('ip', ['netns', 'exec', node.name, bin], {
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr, ms: Number(process.hrtime.bigint() - start) / 1e6 }));
      child.stdin.on('error', () => undefined); // a plugin may exit without reading stdin (EPIPE)
      child.stdin.end(stdin);
    });
  }

  async function cniOk(bin: string, command: string, stdin: string, env: Record<string, string>): Promise<CniRun> {
    const r = await cni(bin, command, stdin, env);
    assert.equal(r.status, 0, `${command} ${env.CNI_CONTAINERID ?? ''} failed: ${r.stdout} ${r.stderr}`);
    return r;
  }

  const podEnv = (p: { ns: Netns; id: string }): Record<string, string> => ({ CNI_CONTAINERID: p.id, CNI_NETNS: `/var/run/netns/${p.ns.name}` });
  const ipamDir = (): string => join(dir, 'ipam', String(flannelConf.name));
  const allocations = (): string[] => (existsSync(ipamDir()) ? readdirSync(ipamDir()).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.')) : []);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'flt-cni-int-'));
    plugin = join(dir, 'bin', 'flannel');
    const build = spawnSync(process.execPath, [join(root, 'scripts/build-cni.mjs'), '--outfile', plugin], { encoding: 'utf8' });
    assert.equal(build.status, 0, `building the plugin failed: ${build.stdout}${build.stderr}`);
    writeFileSync(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    node = Netns.create(`${prefix}n`);
    // The shipped conflist's flannel entry, at spec 1.0.0 so CHECK is allowed, pointed at the temp dir.
    flannelConf = {
      ...conflist.plugins[0],
      name: conflist.name,
      cniVersion: '1.0.0',
      subnetFile: join(dir, 'subnet.env'),
      dataDir: join(dir, 'flannel'),
      ipam: { dataDir: join(dir, 'ipam') },
    };
  });

  after(() => {
    deleteNamespaces(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`ADD gives ${PODS} pods an address, MTU and routes on cni0`, async () => {
    for (let i = 0; i < PODS; i++) pods.push({ ns: Netns.create(`${prefix}p${i}`), id: `${prefix}-pod-${i}`, ip: '', result: {} });
    // Like kubelet: several pods at once (bridge and host-local must cope with concurrent ADDs).
    for (let i = 0; i < PODS; i += 5) {
      const batch = pods.slice(i, i + 5);
      const runs = await Promise.all(batch.map((p) => cniOk(plugin, 'ADD', JSON.stringify(flannelConf), podEnv(p))));
      runs.forEach((r, k) => {
        const pod = batch[k] as PodInfo;
        pod.result = JSON.parse(r.stdout) as Record<string, unknown>;
        const ips = pod.result.ips as Array<{ address: string; gateway: string }>;
        assert.equal(pod.result.cniVersion, '1.0.0');
        assert.equal(ips.length, 1);
        assert.equal(ips[0]?.gateway, '10.244.1.1');
        pod.ip = (ips[0]?.address ?? '').split('/')[0] ?? '';
      });
    }
    assert.equal(new Set(pods.map((p) => p.ip)).size, PODS, 'addresses are unique');

    const bridge = node.ipJson<Array<{ mtu: number; operstate: string; addr_info: Array<{ local: string; prefixlen: number }> }>>(['addr', 'show', 'cni0'])[0];
    assert.ok(bridge, 'cni0 exists in the node namespace');
    assert.equal(bridge.mtu, 1450);
    assert.deepEqual(bridge.addr_info.filter((a) => a.local.includes('.')).map((a) => `${a.local}/${a.prefixlen}`), ['10.244.1.1/24']);
    assert.equal(node.ipJson<unknown[]>(['link', 'show', 'type', 'veth']).length, PODS);

    for (const p of pods) {
      const eth0 = p.ns.ipJson<Array<{ mtu: number; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(['addr', 'show', 'eth0'])[0];
      assert.ok(eth0, `${p.ns.name} has eth0`);
      assert.equal(eth0.mtu, 1450);
      const v4 = eth0.addr_info.filter((a) => a.family === 'inet');
      assert.deepEqual(v4.map((a) => `${a.local}/${a.prefixlen}`), [`${p.ip}/24`]);
      assert.match(p.ip, /^10\.244\.1\.\d+$/);
      const routes = p.ns.ipJson<Array<{ dst: string; gateway?: string }>>(['route', 'show']);
      assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.244.1.1'), `${p.ns.name}: default via 10.244.1.1 (isDefaultGateway)`);
      assert.ok(routes.some((r) => r.dst === '10.244.0.0/16' && r.gateway === '10.244.1.1'), `${p.ns.name}: 10.244.0.0/16 via 10.244.1.1`);
      assert.ok(existsSync(join(ipamDir(), p.ip)), `host-local allocated ${p.ip}`);
      assert.match(readFileSync(join(ipamDir(), p.ip), 'utf8'), new RegExp(`^${p.id}\\s+eth0`));
      const saved = JSON.parse(readFileSync(join(dir, 'flannel', p.id), 'utf8')) as Record<string, unknown>;
      assert.equal(saved.type, 'bridge');
      assert.equal(saved.hairpinMode, true);
    }
    assert.equal(allocations().length, PODS);
  });

  it('CHECK succeeds for every pod (with prevResult), and is refused for a 0.3.1 configuration', async () => {
    for (const p of pods) await cniOk(plugin, 'CHECK', JSON.stringify({ ...flannelConf, prevResult: p.result }), podEnv(p));
    const old = await cni(plugin, 'CHECK', JSON.stringify({ ...flannelConf, cniVersion: '0.3.1' }), podEnv(pods[0] as PodInfo));
    assert.equal(old.status, 1);
    assert.equal((JSON.parse(old.stdout) as { code: number }).code, 1);
  });

  it('pods reach each other across cni0', () => {
    for (let i = 0; i < PODS; i++) {
      const from = pods[i] as PodInfo;
      const to = pods[(i + 1) % PODS] as PodInfo;
      from.ns.exec('ping', ['-c', '1', '-W', '2', to.ip]);
    }
  });

  it('STATUS (1.1.0) is ready while subnet.env is there, code 50 when it is not', async () => {
    const conf = JSON.stringify({ ...flannelConf, cniVersion: '1.1.0' });
    await cniOk(plugin, 'STATUS', conf, {});
    const envFile = join(dir, 'subnet.env');
    const text = readFileSync(envFile, 'utf8');
    rmSync(envFile);
    try {
      const r = await cni(plugin, 'STATUS', conf, {});
      assert.equal(r.status, 1);
      const e = JSON.parse(r.stdout) as { code: number; msg: string; details: string };
      assert.equal(e.code, 50);
      assert.match(e.details, /Check that flanneld is running on this node/);
    } finally {
      writeFileSync(envFile, text);
    }
  });

  it('DEL removes every veth, allocation and saved delegate; DEL again succeeds', async () => {
    for (let i = 0; i < PODS; i += 5) {
      await Promise.all(pods.slice(i, i + 5).map((p) => cniOk(plugin, 'DEL', JSON.stringify({ ...flannelConf, prevResult: p.result }), podEnv(p))));
    }
    assert.deepEqual(node.ipJson<unknown[]>(['link', 'show', 'type', 'veth']), []);
    assert.deepEqual(allocations(), []);
    assert.deepEqual(readdirSync(join(dir, 'flannel')), []);
    for (const p of pods) {
      assert.ok(!p.ns.ipJson<Array<{ ifname: string }>>(['link', 'show']).some((l) => l.ifname === 'eth0'), `${p.ns.name} has no eth0`);
      await cniOk(plugin, 'DEL', JSON.stringify(flannelConf), podEnv(p));
    }
  });

  it('the shipped conflist (flannel, then portmap) for one pod: ADD, port mapping, DEL in reverse', async () => {
    const pod = { ns: Netns.create(`${prefix}pm`), id: `${prefix}-portmap` };
    const mappings = [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }];
    // What libcni does with the list: name and cniVersion into each plugin; runtimeConfig only to
    // plugins declaring the capability; each plugin's result is the next one's prevResult.
    const flannelEntry = { ...conflist.plugins[0], name: conflist.name, cniVersion: conflist.cniVersion, subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'flannel'), ipam: { dataDir: join(dir, 'ipam') } };
    const portmapEntry = { ...conflist.plugins[1], name: conflist.name, cniVersion: conflist.cniVersion, runtimeConfig: { portMappings: mappings } };
    const add = await cniOk(plugin, 'ADD', JSON.stringify(flannelEntry), podEnv(pod));
    const flannelResult = JSON.parse(add.stdout) as Record<string, unknown>;
    assert.equal(flannelResult.cniVersion, '0.3.1');
    const pm = await cniOk(`${CNI_BIN}/portmap`, 'ADD', JSON.stringify({ ...portmapEntry, prevResult: flannelResult }), podEnv(pod));
    const finalResult = JSON.parse(pm.stdout) as Record<string, unknown>;
    const podIp = ((finalResult.ips as Array<{ address: string }>)[0]?.address ?? '').split('/')[0] ?? '';
    assert.match(podIp, /^10\.244\.1\.\d+$/);
    assert.match(node.exec('iptables', ['-t', 'nat', '-S']), new RegExp(`--dport 18080 -j DNAT --to-destination ${podIp.replace(/\./g, '\\.')}:80`));

    await cniOk(`${CNI_BIN}/portmap`, 'DEL', JSON.stringify({ ...portmapEntry, prevResult: finalResult }), podEnv(pod));
    await cniOk(plugin, 'DEL', JSON.stringify({ ...flannelEntry, prevResult: finalResult }), podEnv(pod));
    assert.doesNotMatch(node.exec('iptables', ['-t', 'nat', '-S']), /--dport 18080/);
    assert.deepEqual(node.ipJson<unknown[]>(['link', 'show', 'type', 'veth']), []);
    assert.deepEqual(allocations(), []);
    assert.deepEqual(readdirSync(join(dir, 'flannel')), []);
  });

  it('the compiled plugin (bun APIs only) reports file-system failures and creates dataDir like the node build', async () => {
    const pod = { ns: Netns.create(`${prefix}f`), id: `${prefix}-fs` };
    const withConf = (over: Record<string, unknown>): string => JSON.stringify({ ...flannelConf, ...over });
    const errorOf = (r: CniRun): { code: number; msg: string } => JSON.parse(r.stdout) as { code: number; msg: string };

    const missing = join(dir, 'no-such', 'subnet.env');
    let r = await cni(plugin, 'ADD', withConf({ subnetFile: missing }), podEnv(pod));
    assert.equal(r.status, 1);
    assert.equal(errorOf(r).code, 999);
    assert.match(errorOf(r).msg, new RegExp(`failed to load flannel subnet file ${missing}: no such file. Check that flanneld is running`));

    writeFileSync(join(dir, 'a-file'), '');
    r = await cni(plugin, 'ADD', withConf({ dataDir: join(dir, 'a-file', 'flannel') }), podEnv(pod));
    assert.equal(r.status, 1);
    assert.equal(errorOf(r).code, 999);
    assert.match(errorOf(r).msg, /failed to save the delegate config to .*a-file\/flannel\/.*: ENOTDIR: not a directory/);
    assert.deepEqual(pod.ns.ipJson<Array<{ ifname: string }>>(['link', 'show']).map((l) => l.ifname), ['lo'], 'no delegate ran');

    const deep = join(dir, 'deep', 'a', 'b');
    await cniOk(plugin, 'ADD', withConf({ dataDir: deep }), podEnv(pod));
    assert.equal(statSync(join(dir, 'deep')).mode & 0o777, 0o700);
    assert.equal(statSync(deep).mode & 0o777, 0o700);
    assert.equal(statSync(join(deep, pod.id)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(deep), [pod.id]);
    r = await cniOk(plugin, 'DEL', withConf({ dataDir: deep }), podEnv(pod));
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(deep), []);
    r = await cniOk(plugin, 'DEL', withConf({ dataDir: deep }), podEnv(pod));
    assert.equal(r.stdout, '', 'DEL of an unknown container succeeds');
    assert.deepEqual(allocations(), []);
  });

  it('start-up cost: plugin ADD/DEL against bridge alone with the same generated configuration', async (t) => {
    const runs = Number(process.env.FLANNEL_CNI_BENCH_RUNS ?? 50);
    const pod = { ns: Netns.create(`${prefix}b`), id: `${prefix}-bench` };
    const conf = JSON.stringify(flannelConf);
    await cniOk(plugin, 'ADD', conf, podEnv(pod));
    const delegateConf = readFileSync(join(dir, 'flannel', pod.id), 'utf8');
    await cniOk(plugin, 'DEL', conf, podEnv(pod));
    const ms: Record<'delegateAdd' | 'delegateDel' | 'pluginAdd' | 'pluginDel' | 'nsExec', number[]> = { delegateAdd: [], delegateDel: [], pluginAdd: [], pluginDel: [], nsExec: [] };
    for (let i = 0; i < runs; i++) {
      // Interleaved, so load on the machine hits both sides alike.
      const d = { ...pod, id: `${prefix}-d${i}` };
      const p = { ...pod, id: `${prefix}-p${i}` };
      ms.delegateAdd.push((await cniOk(`${CNI_BIN}/bridge`, 'ADD', delegateConf, podEnv(d))).ms);
      ms.delegateDel.push((await cniOk(`${CNI_BIN}/bridge`, 'DEL', delegateConf, podEnv(d))).ms);
      ms.pluginAdd.push((await cniOk(plugin, 'ADD', conf, podEnv(p))).ms);
      ms.pluginDel.push((await cniOk(plugin, 'DEL', conf, podEnv(p))).ms);
      ms.nsExec.push((await cniOk('/bin/true', 'VERSION', '', {})).ms);
    }
    const q = (a: number[], f: number): number => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(f * a.length))] ?? NaN;
    for (const [k, a] of Object.entries(ms)) t.diagnostic(`${k.padEnd(11)} median ${q(a, 0.5).toFixed(2)} ms  p99 ${q(a, 0.99).toFixed(2)} ms  (n=${a.length})`);
    const wrap = q(ms.nsExec, 0.5);
    const addRatio = q(ms.pluginAdd, 0.5) / q(ms.delegateAdd, 0.5);
    const delRatio = q(ms.pluginDel, 0.5) / q(ms.delegateDel, 0.5);
    const net = (a: number[], b: number[]): number => (q(a, 0.5) - wrap) / (q(b, 0.5) - wrap);
    t.diagnostic(`ADD ratio ${addRatio.toFixed(2)} (without ip-netns-exec ${net(ms.pluginAdd, ms.delegateAdd).toFixed(2)}), target 1.6`);
    t.diagnostic(`DEL ratio ${delRatio.toFixed(2)} (without ip-netns-exec ${net(ms.pluginDel, ms.delegateDel).toFixed(2)})`);
    // A regression guard, not the target: a heavy import (pino, etcd, netlink) in the plugin's
    // graph or a Node start-up would push this far past 3.
    assert.ok(addRatio < 3, `plugin ADD median is ${addRatio.toFixed(2)}x bridge alone`);
    assert.deepEqual(allocations(), []);
  });
});
