/**
 * `flannel-ts doctor` on a real node: two nodes in network namespaces with etcd and a real
 * flanneld each (vxlan). Doctor's gathering runs inside node1 (its namespace and its /run, as on
 * a machine) and must find that node's flanneld with its options, subnet.env, both leases, the
 * vxlan device with its FDB and neighbour entries, the sysctls, the firewall and the CNI dirs,
 * and probe the peer; the CLI's JSON must have the documented shape and exit code. Doctor
 * changes nothing: the node's routes, links and iptables rules are the same after it ran.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKS } from '../../src/doctor/checks/index.ts';
import { Machine, uniquePrefix } from '../../src/lab/netns.ts';
import { FaultCluster, HEALTH_PORT, type FaultNode } from '../harness/fault-cluster.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'nft', 'ping', 'curl', 'ethtool']);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GATHER = join(ROOT, 'test/integration/doctor-gather-node.ts');
const CLI = join(ROOT, 'src/cli/flannel-ts.ts');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- facts parsed from the node's JSON

/** Runs `node --import tsx <args>` on the node's machine; resolves with exit code and output. */
function onNode(node: FaultNode, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd = 'ip', ...rest] = new Machine(node.ns, node.runDir).argv(process.execPath, ['--import', 'tsx', ...args]);
  return new Promise((resolve) => {
    execFile(cmd, rest, { cwd: ROOT, encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * What doctor must not change: the main table's routes, the links, the iptables and nftables
 * rules (packet counters left out, and the local table, where the kernel itself adds the
 * addresses it autoconfigures).
 */
function kernelSnapshot(node: FaultNode): string {
  const rules = (cmd: string): string => node.ns.exec(cmd).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');
  const nft = node.ns.exec('nft', ['list', 'ruleset']).replace(/counter packets \d+ bytes \d+/g, 'counter');
  return JSON.stringify({ routes: [node.ns.ipJson(['route', 'show']), node.ns.ipJson(['-6', 'route', 'show'])], links: node.ns.ipJson(['link', 'show']), v4: rules('iptables-save'), v6: rules('ip6tables-save'), nft });
}

describe('flannel-ts doctor gathers a real node', { skip }, () => {
  const prefix = uniquePrefix('fdg');
  let c: FaultCluster;
  let n1: FaultNode;
  let n2: FaultNode;
  let confDir: string;
  let binDir: string;

  before(async () => {
    c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
    [n1, n2] = (await c.addReadyNodes(2)) as [FaultNode, FaultNode];
    await waitFor('node1 to program node2 (route, neighbour, FDB)', () => c.routesTo(n1, n2), 60_000, 300);
    confDir = join(c.dir, 'cni-conf');
    binDir = join(c.dir, 'cni-bin');
    mkdirSync(confDir);
    mkdirSync(binDir);
    writeFileSync(join(confDir, '10-flannel.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel', delegate: { hairpinMode: true } }, { type: 'portmap', capabilities: { portMappings: true } }] }));
    writeFileSync(join(confDir, '99-other.conf'), '{}');
    writeFileSync(join(confDir, 'README.md'), 'not a CNI config');
    for (const p of ['portmap', 'flannel', 'bridge']) {
      writeFileSync(join(binDir, p), '#!/bin/sh\n');
      chmodSync(join(binDir, p), 0o755);
    }
    writeFileSync(join(binDir, 'notes.txt'), 'not executable');
  });

  after(async () => {
    await c?.down();
  });

  it('reads the facts of its own node only, without changing anything', async () => {
    const before = kernelSnapshot(n1);
    const r = await onNode(n1, [GATHER, JSON.stringify({ cniConfDir: confDir, cniBinDirs: [binDir, join(c.dir, 'no-such-dir')], connectivity: true })]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(kernelSnapshot(n1), before, 'doctor changed the node');
    const f = JSON.parse(r.stdout) as Json;
    const subnet1 = c.subnet(n1);
    const subnet2 = c.subnet(n2);

    // flanneld: node1's process (not node2's), its options from its command line, its health endpoint.
    assert.equal(f.flanneld.processes.length, 1, JSON.stringify(f.flanneld.processes));
    const proc = f.flanneld.processes[0];
    assert.ok(proc.argv.some((a: string) => a.endsWith('src/cli/flanneld.ts')), proc.argv.join(' '));
    assert.equal(f.optionsFrom, `pid ${proc.pid}'s command line and environment`);
    assert.deepEqual(f.options.etcd.endpoints, [c.etcd.endpoint]);
    assert.deepEqual(f.options.interfaces.iface, ['eth0']);
    assert.equal(f.options.ipMasq, true);
    assert.deepEqual(f.options.healthz, { ip: '127.0.0.1', port: HEALTH_PORT });
    assert.equal(f.flanneld.healthz.url, `http://127.0.0.1:${HEALTH_PORT}`);
    assert.equal(f.flanneld.healthz.healthz.status, 200);
    assert.equal(f.flanneld.healthz.readyz.status, 200);

    // subnet.env through the node's own /run.
    assert.equal(f.subnetEnv.path, '/run/flannel/subnet.env');
    assert.equal(f.subnetEnv.value.subnet, subnet1.toString());
    assert.equal(f.subnetEnv.value.network, '10.244.0.0/16');
    assert.equal(f.subnetEnv.value.mtu, 1450);

    // The datastore: config and both leases.
    assert.equal(f.datastore.kind, 'etcd');
    assert.equal(f.datastore.config.value.v4.network, '10.244.0.0/16');
    assert.equal(f.datastore.config.value.backend.type, 'vxlan');
    const leases = f.datastore.leases.value as Json[];
    assert.deepEqual(leases.map((l) => `${l.subnet} ${l.attrs.publicIP} ${l.attrs.backendType}`).sort(), [`${subnet1} ${n1.underlayIP} vxlan`, `${subnet2} ${n2.underlayIP} vxlan`].sort());

    // The kernel: flannel.1 with node2's neighbour and FDB entry, the route to node2's subnet.
    const links = f.kernel.value.links as Json[];
    const vxlan = links.find((l) => l.name === 'flannel.1');
    assert.ok(vxlan, `no flannel.1 among ${links.map((l) => l.name).join(', ')}`);
    assert.equal(vxlan.kind, 'vxlan');
    assert.equal(vxlan.vxlan.vni, 1);
    assert.equal(vxlan.vxlan.local, n1.underlayIP);
    const mac2 = c.vtepMac(n2);
    assert.ok(f.kernel.value.fdb.some((e: Json) => e.linkIndex === vxlan.index && e.mac === mac2 && e.dst === n2.underlayIP), JSON.stringify(f.kernel.value.fdb));
    assert.ok(f.kernel.value.neighbors.some((e: Json) => e.linkIndex === vxlan.index && e.ip === subnet2.ip.toString() && e.mac === mac2), JSON.stringify(f.kernel.value.neighbors));
    assert.ok(f.kernel.value.routes.some((rt: Json) => rt.dst === subnet2.toString() && rt.linkIndex === vxlan.index && rt.gateway === subnet2.ip.toString()));
    assert.equal(links.filter((l) => l.name === 'eth0').length, 1);

    // The interface, chosen by flanneld's rule.
    assert.deepEqual(f.iface.value, { name: 'eth0', index: links.find((l) => l.name === 'eth0')?.index, address: n1.underlayIP, why: '--iface=eth0' });

    // Sysctls of the node's namespace, modules, firewall, offload.
    assert.equal(f.sysctls['net.ipv4.ip_forward'], '1');
    assert.ok(f.modules.includes('vxlan'), f.modules.join(' '));
    const iptables = [f.firewall.iptables.legacy, f.firewall.iptables.nft].map((x: Json) => x.value ?? '').join('\n');
    assert.match(iptables, /-A POSTROUTING .*-j FLANNEL-POSTRTG/);
    assert.match(iptables, /-A FORWARD .*-j FLANNEL-FWD/);
    assert.equal(typeof f.firewall.nftRuleset.value, 'string');
    assert.match(f.txChecksum['flannel.1'].value, /^(on|off)$/);
    assert.deepEqual(f.wireguard, { value: [] });

    // CNI: config files in the runtime's order (not README.md), executables only, a missing dir as an error.
    assert.equal(f.cni.confDir, confDir);
    assert.deepEqual(f.cni.confFiles.value.map((x: Json) => x.name), ['10-flannel.conflist', '99-other.conf']);
    assert.match(f.cni.confFiles.value[0].text, /"type":"flannel"/);
    assert.deepEqual(f.cni.binDirs[0], { dir: binDir, plugins: { value: ['bridge', 'flannel', 'portmap'] } });
    assert.match(f.cni.binDirs[1].plugins.error, /does not exist$/);

    // --connectivity: node2 answers through the overlay (flannel.1) and on the underlay (eth0).
    assert.equal(f.probes.length, 1);
    const probe = f.probes[0] as Json;
    assert.equal(probe.peer, `${subnet2} via ${n2.underlayIP}`);
    assert.equal(probe.overlay.target, `${subnet2.ip} (flannel.1)`);
    assert.equal(probe.overlay.ok, true);
    assert.equal(probe.underlay.target, `${n2.underlayIP} (eth0)`);
    assert.equal(probe.underlay.ok, true);
    assert.ok(probe.overlay.rttMs > 0 && probe.underlay.rttMs > 0);
  });

  it("doctor's own flanneld flags win: a wrong etcd endpoint is reported, not a crash", async () => {
    const r = await onNode(n1, [GATHER, JSON.stringify({ flanneldFlags: ['--etcd-endpoints=http://127.0.0.1:1', '--iface=eth0'], cniConfDir: confDir })]);
    assert.equal(r.code, 0, r.stderr);
    const f = JSON.parse(r.stdout) as Json;
    assert.equal(f.optionsFrom, "doctor's flags");
    assert.match(f.datastore.config.error, /127\.0\.0\.1:1/);
    assert.match(f.datastore.leases.error, /127\.0\.0\.1:1/);
    assert.equal(f.flanneld.processes.length, 1, 'the process is still found');
    assert.equal(f.flanneld.healthz, undefined, 'no --healthz-port among the given flags');
  });

  it('the CLI prints the JSON report with consistent counts and exits by them', async () => {
    const r = await onNode(n1, [CLI, 'doctor', '--json', '--cni-conf-dir', confDir, '--cni-bin-dir', binDir]);
    const report = JSON.parse(r.stdout) as { node: string; results: Array<{ id: string; status: string; saw: string; fix?: string }>; summary: Record<string, number> };
    assert.deepEqual(Object.keys(report), ['node', 'results', 'summary']);
    assert.equal(typeof report.node, 'string');
    assert.ok(Array.isArray(report.results));
    for (const x of report.results) {
      assert.match(x.id, /^[a-z0-9-]+\.[a-z0-9.-]+$/);
      assert.ok(['ok', 'warn', 'fail', 'skip'].includes(x.status), x.status);
      assert.equal(typeof x.saw, 'string');
    }
    const { ok, warn, fail, skip: skipped } = report.summary as { ok: number; warn: number; fail: number; skip: number };
    assert.equal(ok + warn + fail + skipped, report.results.length);
    for (const s of ['ok', 'warn', 'fail', 'skip'] as const) assert.equal(report.summary[s], report.results.filter((x) => x.status === s).length);
    assert.equal(r.code, fail > 0 ? 1 : 0, r.stderr);
    assert.deepEqual([...new Set(report.results.map((x) => x.id))], CHECKS.map((c) => c.id), 'every check reports, in report order');
    // A healthy node, except for the plugin this test leaves out of the bin dir.
    assert.deepEqual(report.results.filter((x) => x.status === 'fail' || x.status === 'warn').map((x) => `${x.status} ${x.id}: ${x.saw}`), [
      `fail cni.plugins: 10-flannel.conflist needs flannel, bridge, host-local, portmap; missing from ${binDir}: host-local (pods fail with "failed to find plugin")`,
    ]);
    assert.equal(report.results.find((x) => x.id === 'flanneld.process')?.status, 'ok');
    assert.equal(report.results.find((x) => x.id === 'dataplane.peers')?.saw, '1 peer(s), 3 kernel object(s) as the leases say');

    const table = await onNode(n1, [CLI, 'doctor', '--cni-conf-dir', confDir, '--cni-bin-dir', binDir]);
    assert.equal(table.code, r.code, table.stderr);
    assert.match(table.stdout, /\ndoctor: \d+ ok, \d+ warn, \d+ fail, \d+ skipped\n$|^doctor: \d+ ok, \d+ warn, \d+ fail, \d+ skipped\n$/);
  });
});
