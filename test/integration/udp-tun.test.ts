/**
 * The udp backend's data path on real TUN devices: two node namespaces on a veth pair, a pod
 * namespace behind each, the data plane (native pump, packet path, route table) running in each
 * node through test/integration/udp-tun-node.ts. Real ICMP between the pods through flannel0,
 * upstream's TTL arithmetic, drops for unknown subnets counted and answered, start-up errors that
 * leave nothing, and flannel0 gone when the data path closes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import type { UdpNodeSpec } from './udp-tun-node.ts';

const skip = skipUnlessPrivileged(['ping', 'curl']);
const NODE_SCRIPT = fileURLToPath(new URL('./udp-tun-node.ts', import.meta.url));
const NETWORK = '10.244.0.0/16';

interface Running {
  proc: ChildProcess;
  lines: Interface;
  first: Record<string, unknown>;
  request(cmd: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function nextLine(lines: Interface, proc: ChildProcess, what: string): Promise<string> {
  const exited = once(proc, 'exit').then(([code]) => {
    throw new Error(`${what}: the data path exited (${String(code)}) before answering`);
  });
  const line = once(lines, 'line').then(([l]) => l as string);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within 30 s`)), 30_000).unref());
  return Promise.race([line, exited, timeout]);
}

async function startDataPath(ns: Netns, spec: UdpNodeSpec): Promise<Running> {
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', NODE_SCRIPT, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const first = JSON.parse(await nextLine(lines, proc, `start in ${ns.name}`)) as Record<string, unknown>;
  return {
    proc,
    lines,
    first,
    request: async (cmd) => {
      proc.stdin?.write(`${cmd}\n`);
      return JSON.parse(await nextLine(lines, proc, cmd)) as Record<string, unknown>;
    },
    close: async () => {
      if (proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.stdin?.end('close\n');
      await exited;
    },
  };
}

describe('udp data path on real TUN devices', { skip }, () => {
  const prefix = uniquePrefix('flu');
  const made: Netns[] = [];
  const running: Running[] = [];
  const nodes: Netns[] = [];
  const pods: Netns[] = [];
  const specOf = (i: number): UdpNodeSpec => ({
    network: NETWORK,
    subnet: `10.244.${i}.0/24`,
    bind: `192.168.77.${i}`,
    port: 8285,
    extMtu: 1500,
    peers: [{ subnet: `10.244.${3 - i}.0/24`, publicIP: `192.168.77.${3 - i}` }],
  });

  before(async () => {
    for (const i of [1, 2]) {
      const node = Netns.create(`${prefix}-n${i}`);
      made.push(node);
      nodes.push(node);
    }
    const [n1, n2] = nodes as [Netns, Netns];
    // The pair is made inside n1 with one end moved to n2: the root namespace never sees it.
    n1.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n2.name]);
    for (const [i, node] of nodes.entries()) {
      node.exec('ip', ['addr', 'add', `192.168.77.${i + 1}/24`, 'dev', 'eth0']);
      node.exec('ip', ['link', 'set', 'eth0', 'up']);
      node.sysctl('net.ipv4.ip_forward', '1');
      const pod = Netns.create(`${prefix}-n${i + 1}-pod`);
      made.push(pod);
      pods.push(pod);
      node.exec('ip', ['link', 'add', 'pod', 'mtu', '1472', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name]);
      node.exec('ip', ['addr', 'add', `10.244.${i + 1}.1/24`, 'dev', 'pod']);
      node.exec('ip', ['link', 'set', 'pod', 'up']);
      pod.exec('ip', ['link', 'set', 'eth0', 'mtu', '1472', 'up']);
      pod.exec('ip', ['addr', 'add', `10.244.${i + 1}.2/24`, 'dev', 'eth0']);
      pod.exec('ip', ['route', 'add', 'default', 'via', `10.244.${i + 1}.1`]);
    }
    for (const [i, node] of nodes.entries()) {
      const r = await startDataPath(node, specOf(i + 1));
      running.push(r);
      assert.equal(r.first.ready, true, JSON.stringify(r.first));
    }
  });

  after(async () => {
    for (const r of running) await r.close().catch(() => r.proc.kill('SIGKILL'));
    for (const ns of made.reverse()) ns.delete();
  });

  it("sets flannel0 up as upstream does: a TUN device with the subnet's address /32, MTU 1472, the Network routed through it", () => {
    for (const [i, node] of nodes.entries()) {
      const [link] = node.ipJson<Array<{ mtu: number; linkinfo?: { info_kind: string; info_data?: Record<string, unknown> }; flags: string[] }>>(['-d', 'link', 'show', 'flannel0']);
      assert.equal(link?.linkinfo?.info_kind, 'tun');
      assert.equal(link?.linkinfo?.info_data?.type, 'tun');
      assert.equal(link?.linkinfo?.info_data?.pi, false, 'IFF_NO_PI: bare IP packets');
      assert.equal(link?.linkinfo?.info_data?.persist, false, 'goes away with its process');
      assert.equal(link?.mtu, 1472);
      assert.ok(link?.flags.includes('UP'));
      const addrs = node.ipJson<Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(['addr', 'show', 'flannel0']);
      assert.deepEqual(addrs[0]?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`10.244.${i + 1}.0/32`]);
      const routes = node.ipJson<Array<{ dst: string; dev: string; gateway?: string }>>(['route', 'show']).filter((r) => r.dev === 'flannel0');
      assert.deepEqual(routes.map((r) => `${r.dst} dev ${r.dev}${r.gateway ? ` via ${r.gateway}` : ''}`), [`${NETWORK} dev flannel0`]);
      assert.deepEqual(running[i]?.first.routes, [`10.244.${2 - i}.0/24 via 192.168.77.${2 - i}:8285`]);
    }
  });

  it("carries ICMP between the pods, with upstream's TTL arithmetic (one hop per proxy), full-size packets too", () => {
    const [p1, p2] = pods as [Netns, Netns];
    const out = p1.exec('ping', ['-c', '3', '-i', '0.2', '-W', '5', '10.244.2.2']);
    assert.match(out, / 0% packet loss/);
    // 64, minus node 1 forwarding, both proxies, node 2 forwarding; the same on the way back.
    assert.match(out, /ttl=60 /, out);
    assert.match(p2.exec('ping', ['-c', '2', '-i', '0.2', '-W', '5', '10.244.1.2']), / 0% packet loss/);
    // 1472 - 28: the largest ICMP payload the pod MTU carries, with don't-fragment.
    assert.match(p1.exec('ping', ['-c', '2', '-i', '0.2', '-W', '5', '-M', 'do', '-s', '1444', '10.244.2.2']), / 0% packet loss/);
  });

  it("drops packets for a subnet no node holds, counts them, and answers with ICMP network unreachable (as upstream's proxy)", async () => {
    const [p1] = pods as [Netns];
    const before = (await running[0]?.request('stats')) as { drops: Record<string, number>; icmpSent: number };
    const ping = spawnSync('ip', ['netns', 'exec', p1.name, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '10.244.9.9'], { encoding: 'utf8' });
    assert.notEqual(ping.status, 0);
    // TCP gets the ICMP (no ICMP about ICMP): the connection fails at once instead of timing out.
    const started = Date.now();
    const curl = spawnSync('ip', ['netns', 'exec', p1.name, 'curl', '-sS', '--max-time', '20', 'http://10.244.9.9:80/'], { encoding: 'utf8' });
    assert.equal(curl.status, 7, `curl: ${curl.stderr}`);
    assert.ok(Date.now() - started < 15_000, 'refused by the ICMP, not by a timeout');
    const after = (await running[0]?.request('stats')) as { drops: Record<string, number>; icmpSent: number };
    assert.ok((after.drops.unknownSubnet ?? 0) - (before.drops.unknownSubnet ?? 0) >= 3, JSON.stringify(after));
    assert.ok(after.icmpSent - before.icmpSent >= 1, JSON.stringify(after));
  });

  it('refuses a second data path on a port in use, naming it, and leaves no second device', async () => {
    const [n1] = nodes as [Netns];
    const second = await startDataPath(n1, specOf(1));
    await once(second.proc, 'exit');
    assert.equal(second.proc.exitCode, 1);
    assert.equal(second.first.error, 'UDP port 8285 on 192.168.77.1 is in use by another program');
    assert.equal(second.first.code, 'E_BACKEND_UNAVAILABLE');
    assert.deepEqual(n1.ipJson<Array<{ ifname: string }>>(['link', 'show']).map((l) => l.ifname).filter((n) => n.startsWith('flannel')), ['flannel0']);
  });

  it('refuses to bind an address the node does not have, naming it', async () => {
    const [n1] = nodes as [Netns];
    const bad = await startDataPath(n1, { ...specOf(1), bind: '192.168.77.99' });
    await once(bad.proc, 'exit');
    assert.equal(bad.first.error, 'cannot bind UDP 192.168.77.99:8285: 192.168.77.99 is not an address of this node');
    assert.deepEqual(n1.ipJson<Array<{ ifname: string }>>(['link', 'show']).map((l) => l.ifname).filter((n) => n.startsWith('flannel')), ['flannel0']);
  });

  it('removes flannel0 (and its route) when the data path closes', async () => {
    for (const r of running) await r.close();
    for (const node of nodes) {
      assert.deepEqual(node.ipJson<Array<{ ifname: string }>>(['link', 'show']).map((l) => l.ifname).filter((n) => n.startsWith('flannel')), []);
      assert.deepEqual(node.ipJson<unknown[]>(['route', 'show', NETWORK]), []);
    }
  });
});
