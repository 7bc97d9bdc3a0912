/**
 * The udp backend end to end: three node namespaces on a switch, etcd, one flanneld per node with
 * Backend {"Type":"udp"} (the native TUN addon under the real daemon). Exact kernel state, pods
 * of every pair over ICMP and TCP, what crosses the switch (only UDP 8285, the inner packet as
 * its payload), a departed peer, and a flanneld restart.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, sh, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { ping, tcpExchange } from '../harness/pods.ts';
import { podCluster } from '../harness/pod-cluster.ts';
import { waitFor } from '../harness/wait.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'ping', 'curl', 'tcpdump']);
const NETWORK = '10.244.0.0/16';

type IpJson = Array<Record<string, unknown>>;

interface Frame {
  src: string;
  dst: string;
  proto: number;
  srcPort?: number;
  dstPort?: number;
  /**
   * The UDP payload read as IPv4 packets back to back: one per datagram on a real wire. Across
   * veth and the bridge a frame can still be a UDP GSO frame (several datagrams of one size that
   * the receiving socket cuts apart), so a payload may hold several.
   */
  inner?: Array<{ src: string; dst: string; proto: number; totalLength: number }>;
  /** Bytes of the payload that are not whole IPv4 packets (0 when it is packets only). */
  rest?: number;
}

const addr = (b: Buffer, off: number): string => [...b.subarray(off, off + 4)].join('.');

/** The IPv4 frames of a pcap file (Ethernet link type), decoded as far as the test needs. */
function readPcap(file: string): Frame[] {
  const b = readFileSync(file);
  const frames: Frame[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const caplen = b.readUInt32LE(off + 8);
    const data = b.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (data.length < 34 || data.readUInt16BE(12) !== 0x0800) continue;
    const ip = data.subarray(14);
    const ihl = ((ip[0] as number) & 0x0f) * 4;
    const f: Frame = { src: addr(ip, 12), dst: addr(ip, 16), proto: ip[9] as number };
    if (f.proto === 17) {
      f.srcPort = ip.readUInt16BE(ihl);
      f.dstPort = ip.readUInt16BE(ihl + 2);
      const payload = ip.subarray(ihl + 8);
      f.inner = [];
      let at = 0;
      while (payload.length - at >= 20 && (payload[at] as number) >> 4 === 4) {
        const totalLength = payload.readUInt16BE(at + 2);
        if (totalLength < 20 || at + totalLength > payload.length) break;
        f.inner.push({ src: addr(payload, at + 12), dst: addr(payload, at + 16), proto: payload[at + 9] as number, totalLength });
        at += totalLength;
      }
      f.rest = payload.length - at;
    }
    frames.push(f);
  }
  return frames;
}

describe('udp backend in a 3-node lab', { skip }, () => {
  const prefix = uniquePrefix('flud');
  const captureDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  after(() => rmSync(captureDir, { recursive: true, force: true }));
  const lab = podCluster({ prefix, netconf: { Network: NETWORK, Backend: { Type: 'udp' } } });
  const { ns, subnetOf, pod } = lab;

  it('sets up flannel0 exactly as upstream: TUN, subnet address /32, MTU 1500 − 28, one Network route; lease with only PublicIP; subnet.env MTU 1472', () => {
    for (const n of lab.cluster.nodes) {
      const own = subnetOf(n);
      const [dev] = ns(n).ipJson<IpJson>(['-d', 'link', 'show', 'flannel0']);
      const info = dev?.linkinfo as { info_kind: string; info_data: Record<string, unknown> };
      assert.equal(info.info_kind, 'tun');
      assert.deepEqual({ type: info.info_data.type, pi: info.info_data.pi, persist: info.info_data.persist }, { type: 'tun', pi: false, persist: false });
      assert.equal(dev?.mtu, 1472);
      const addrs = ns(n).ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(['addr', 'show', 'flannel0']);
      assert.deepEqual(addrs[0]?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`${own.ip}/32`]);
      const viaFlannel = ns(n).ipJson<IpJson>(['route', 'show']).filter((r) => r.dev === 'flannel0');
      assert.deepEqual(viaFlannel.map((r) => `${String(r.dst)}${r.gateway ? ` via ${String(r.gateway)}` : ''}`), [NETWORK], 'one route for the Network, none per peer');
      assert.equal(readFileSync(n.subnetFile, 'utf8'), `FLANNEL_NETWORK=${NETWORK}\nFLANNEL_SUBNET=${own.firstHost}/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n`);
      assert.match(ns(n).exec('ss', ['-Hlun', 'sport = :8285']), new RegExp(`${n.underlayIP.replaceAll('.', '\\.')}:8285`), 'the socket is bound to the external address');
      const lease = JSON.parse(lab.cluster.etcdctl(['get', '--print-value-only', `/coreos.com/network/subnets/${own.ip}-${own.prefix}`])) as Record<string, unknown>;
      assert.equal(lease.PublicIP, n.underlayIP);
      assert.equal(lease.BackendType, 'udp');
      assert.equal(lease.BackendData, undefined, 'no BackendData, as upstream');
    }
  });

  it('carries ICMP and TCP between pods on every pair of nodes', () => {
    lab.assertEveryPairCarries(2);
  });

  // Captured on node1's port of the switch (the bridge itself sees only what it floods or receives).
  it('on the switch only UDP 8285 crosses between the nodes, each datagram carrying the pod packet as is', async () => {
    const sw = new Netns(lab.cluster.switchNs);
    const file = join(captureDir, 'capture.pcap');
    const [a, b] = [lab.cluster.node(1).underlayIP, lab.cluster.node(2).underlayIP];
    const dump = spawn('ip', ['netns', 'exec', sw.name, 'tcpdump', '-i', 'v-n1', '-nn', '--immediate-mode', '-U', '-s', '0', '-w', file, `host ${a} and host ${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    dump.stderr?.on('data', (d: Buffer) => (said += d.toString()));
    await waitFor('tcpdump to listen', () => said.includes('listening on'), 30_000);
    for (let i = 0; i < 3; i++) {
      ping(pod(1), pod(2).ip);
      assert.equal(tcpExchange(pod(2), pod(1).ip, `capture-${i}`), `echo:capture-${i}`);
    }
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('close', r));
    const frames = readPcap(file);
    assert.ok(frames.length >= 12, `the pings and TCP exchanges crossed: ${frames.length} frames`);
    const notUdp8285 = frames.filter((f) => !(f.proto === 17 && f.srcPort === 8285 && f.dstPort === 8285));
    assert.deepEqual(notUdp8285, [], 'every packet between the nodes is UDP 8285 to 8285');
    assert.ok(!frames.some((f) => f.src.startsWith('10.244.') || f.dst.startsWith('10.244.')), 'no pod address in an outer header');
    const pods12 = [pod(1).ip, pod(2).ip];
    assert.deepEqual(frames.filter((f) => f.rest !== 0 || f.inner?.length === 0), [], 'each payload is IPv4 packets as they are, no header or trailer of ours');
    for (const f of frames.filter((x) => (x.inner?.length ?? 0) > 1)) {
      const sizes = (f.inner ?? []).map((i) => i.totalLength);
      assert.ok(sizes.slice(0, -1).every((x) => x === sizes[0]) && (sizes.at(-1) ?? 0) <= (sizes[0] ?? 0), `a GSO frame holds datagrams of one size (the last may be shorter): ${sizes.join(', ')}`);
    }
    const inner = frames.flatMap((f) => f.inner ?? []);
    assert.ok(inner.some((i) => i.proto === 1 && pods12.includes(i.src) && pods12.includes(i.dst)), 'the ICMP between the pods is inside');
    assert.ok(inner.some((i) => i.proto === 6 && pods12.includes(i.src) && pods12.includes(i.dst)), 'the TCP between the pods is inside');
    console.log(`# capture: ${sh('tcpdump', ['-r', file, '-nn', '-c', '2']).trim().replaceAll('\n', ' | ')}`);
  });

  it('restarts flanneld: same subnet, flannel0 created again, and traffic flows again both ways', async () => {
    const n1 = lab.cluster.node(1);
    const before = subnetOf(n1).toString();
    await lab.cluster.stopFlanneld(n1);
    await waitFor('flannel0 to go with its process', () => ns(n1).ipJson<IpJson>(['link', 'show']).every((l) => l.ifname !== 'flannel0'), 10_000);
    await lab.cluster.startFlanneld(n1);
    await lab.cluster.waitReady(n1, 60_000);
    assert.equal(subnetOf(n1).toString(), before);
    assert.equal(ns(n1).ipJson<IpJson>(['link', 'show', 'flannel0'])[0]?.mtu, 1472);
    // The peers' leases arrive right after readiness: wait for traffic, then check every pair of node 1.
    await waitFor('pod1 to reach pod2 again', () => {
      ping(pod(1), pod(2).ip);
      return true;
    }, 30_000, 200);
    for (const other of [2, 3]) {
      ping(pod(1), pod(other).ip, 2);
      ping(pod(other), pod(1).ip, 2);
      assert.equal(tcpExchange(pod(other), pod(1).ip, `after-restart-${other}`), `echo:after-restart-${other}`);
      assert.equal(tcpExchange(pod(1), pod(other).ip, `after-restart-from-1-${other}`), `echo:after-restart-from-1-${other}`);
    }
  });

  it('a departed peer gets no more packets: TCP to its pod fails at once (ICMP network unreachable), not by timeout', async () => {
    const n3 = lab.cluster.node(3);
    const gone = subnetOf(n3);
    await lab.cluster.stopFlanneld(n3);
    lab.cluster.etcdctl(['del', `/coreos.com/network/subnets/${gone.ip}-${gone.prefix}`]);
    await waitFor('node1 to drop node3 (TCP refused by the ICMP)', () => {
      const started = Date.now();
      const r = spawnSync('ip', ['netns', 'exec', pod(1).ns.name, 'curl', '-sS', '--max-time', '5', `http://${pod(3).ip}:7000/`], { encoding: 'utf8' });
      return r.status === 7 && Date.now() - started < 4000;
    }, 30_000, 200);
    assert.equal(tcpExchange(pod(1), pod(2).ip, 'still'), 'echo:still', 'the other peer is untouched');
  });
});
