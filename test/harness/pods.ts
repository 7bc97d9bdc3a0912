/**
 * Hand-made "pods" for data-plane tests that do not involve the CNI plugin: a bridge in the node
 * with the subnet's first address, and a namespace with a veth on it, as the bridge plugin would do.
 */
import { Cidr } from '../../src/ip/index.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { Netns, nsSpawn } from '../../src/lab/netns.ts';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface TestPod {
  ns: Netns;
  ip: string;
}

export function addPod(nodeNs: string, subnetFile: string, podNs: string, k: number): TestPod {
  const env = parseSubnetEnv(readFileSync(subnetFile, 'utf8'), subnetFile);
  const subnet = env.subnet as Cidr;
  const node = new Netns(nodeNs);
  const gw = subnet.firstHost.toString();
  if (!node.exec('ip', ['-o', 'link', 'show']).includes(' podbr0:')) {
    node.exec('ip', ['link', 'add', 'podbr0', 'type', 'bridge']);
    node.exec('ip', ['addr', 'add', `${gw}/${subnet.prefix}`, 'dev', 'podbr0']);
    node.exec('ip', ['link', 'set', 'podbr0', 'mtu', String(env.mtu), 'up']);
  }
  const pod = Netns.create(podNs);
  const ip = subnet.ip.add(1 + k).toString();
  node.exec('ip', ['link', 'add', `pv${k}`, 'mtu', String(env.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs]);
  node.exec('ip', ['link', 'set', `pv${k}`, 'master', 'podbr0', 'up']);
  pod.exec('ip', ['link', 'set', 'eth0', 'mtu', String(env.mtu), 'up']);
  pod.exec('ip', ['addr', 'add', `${ip}/${subnet.prefix}`, 'dev', 'eth0']);
  pod.exec('ip', ['route', 'add', 'default', 'via', gw]);
  return { ns: pod, ip };
}

const ECHO_SERVER = `require('node:net').createServer((c) => c.once('data', (d) => c.end('echo:' + d))).listen(7000);`;

/** A TCP echo server on port 7000 in the pod (killed with the namespace). */
export function startEchoServer(pod: TestPod): ChildProcess {
  return nsSpawn(pod.ns.name, process.execPath, ['-e', ECHO_SERVER], { stdio: 'ignore' });
}

/** One TCP exchange from `from` to `toIp`:7000; returns what came back. */
export function tcpExchange(from: TestPod, toIp: string, payload: string): string {
  const client = `const c = require('node:net').connect(7000, '${toIp}', () => c.end('${payload}')); c.setTimeout(3000, () => { console.error('timeout'); process.exit(1); }); c.on('data', (d) => process.stdout.write(d)); c.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return from.ns.exec(process.execPath, ['-e', client]);
}

export function ping(from: TestPod, toIp: string, count = 1): void {
  from.ns.exec('ping', ['-c', String(count), '-W', '2', '-i', '0.2', toIp]);
}
