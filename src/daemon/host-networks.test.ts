import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../config/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { FakeKernel } from '../kernel/index.ts';
import { listHostNetworks, underlayOverlapWarnings } from './host-networks.ts';

const addr = (text: string): { ip: IPAddress; prefix: number } => {
  const [ip, prefix] = text.split('/');
  return { ip: IPAddress.parse(ip as string), prefix: Number(prefix) };
};

function node(): FakeKernel {
  const k = new FakeKernel();
  k.addLink({ name: 'eth0', up: true, addrs: [addr('192.168.50.11/24'), addr('fd00:50::11/64')] });
  k.addLink({ name: 'eth1', up: true, addrs: [addr('10.9.0.5/16')] });
  k.addLink({ name: 'cni0', up: true, addrs: [addr('10.244.1.1/24')] });
  k.addLink({ name: 'flannel.1', kind: 'vxlan', up: true, addrs: [addr('10.244.1.0/32')] });
  k.addLink({ name: 'kube-ipvs0', up: true, addrs: [addr('10.96.0.1/32')] });
  return k;
}

describe('listHostNetworks', () => {
  it("lists the node's own networks, not flannel's devices, cni0 or loopback", async () => {
    const nets = await listHostNetworks(node(), [4], 'eth0');
    assert.deepEqual(
      nets.map((n) => `${n.cidr.toString()} ${n.device}${n.external ? ' external' : ''}`).sort(),
      ['10.9.0.0/16 eth1', '10.96.0.1/32 kube-ipvs0', '192.168.50.0/24 eth0 external'],
    );
  });
  it('lists link routes without an address, and IPv6 without link-local', async () => {
    const k = node();
    const eth1 = await k.getLink('eth1');
    await k.replaceRoute({ dst: Cidr.parse('172.30.0.0/16'), linkIndex: eth1?.index as number });
    await k.replaceRoute({ dst: Cidr.parse('10.244.7.0/24'), gateway: IPAddress.parse('192.168.50.12'), linkIndex: (await k.getLink('eth0'))?.index as number });
    const v4 = (await listHostNetworks(k, [4], 'eth0')).map((n) => n.cidr.toString());
    assert.ok(v4.includes('172.30.0.0/16'), v4.join(' '));
    assert.ok(!v4.includes('10.244.7.0/24'), 'a gateway route (host-gw peer) is not a host network');
    assert.deepEqual((await listHostNetworks(k, [6], 'eth0')).map((n) => `${n.cidr.toString()} ${n.device}`), ['fd00:50::/64 eth0']);
  });
});

describe('underlayOverlapWarnings', () => {
  it('names the Network, the interface network and the fix (the 192.168.0.0/16 trap)', async () => {
    const nets = await listHostNetworks(node(), [4], 'eth0');
    const config = parseNetworkConfig('{"Network":"192.168.0.0/16"}');
    assert.deepEqual(underlayOverlapWarnings(config, 'eth0', nets), [
      'Network 192.168.0.0/16 overlaps 192.168.50.0/24, the network of eth0 (the interface flannel uses between nodes): subnets overlapping it are never leased and pods cannot reach hosts in it; choose a Network outside it (e.g. 10.244.0.0/16, the same as kubeadm init --pod-network-cidr)',
    ]);
  });
  it('says nothing for a Network clear of the external interface', async () => {
    const nets = await listHostNetworks(node(), [4], 'eth0');
    assert.deepEqual(underlayOverlapWarnings(parseNetworkConfig('{"Network":"10.244.0.0/16"}'), 'eth0', nets), []);
  });
});
