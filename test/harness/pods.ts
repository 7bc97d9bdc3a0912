/**
 * Hand-made "pods" for data-plane tests that do not involve the CNI plugin: a bridge in the node
 * with the subnet's first address, and a namespace with a veth on it, as the bridge plugin would do.
 */
import { Cidr } from '../../src/ip/index.ts';
import { parseSubnetEnv } from '../../src/subnetenv/index.ts';
import { Netns } from '../../src/lab/netns.ts';
import * as probe from '../../src/lab/probe.ts';
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

/** A TCP echo server on port 7000 in the pod (killed with the namespace). */
export function startEchoServer(pod: TestPod): void {
  probe.startEchoServer(pod.ns.name);
}

export function tcpExchange(from: TestPod, toIp: string, payload: string): string {
  return probe.tcpExchange(from.ns.name, toIp, payload);
}

export function ping(from: TestPod, toIp: string, count = 1): void {
  probe.ping(from.ns.name, toIp, count);
}
