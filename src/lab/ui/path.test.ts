/**
 * The parsers and decisions of lab/ui/path, on output captured from real labs (vxlan + iptables,
 * host-gw + nftables, wireguard, udp), healthy and with `lab break` faults in.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IPAddress } from '../../ip/index.ts';
import { parseIptablesChain, parseIptablesRule, parseNftChain, ruleShort, walkChain, type Chain, type Packet } from './path-chains.ts';
import { bridgePortState, fdbEntry, inetAddresses, parseLease, parseLinkHead, parseNeighbour, parseRouteGet, trimAddr, trimLinkDetail, wireguardPeerFor } from './path-parse.ts';
import { bridgeNeighbourDecision, routeDecision } from './path.ts';
import { renderPath } from './path-command.ts';
import type { PodPath } from './snapshot-types.ts';

// ---- captured output ---------------------------------------------------------------------------

/** In node1-pod1 (vxlan lab): `ip route get 10.244.25.2`. */
const POD_ROUTE = '10.244.25.2 via 10.244.3.1 dev eth0 src 10.244.3.2 uid 0 \n    cache \n';
/** In node1-pod1: `ip route get 10.244.3.3` (node1-pod2, same node). */
const POD_ROUTE_SAME_NODE = '10.244.3.3 dev eth0 src 10.244.3.2 uid 0 \n    cache \n';
/** On node1: `ip route get 10.244.25.2 from 10.244.3.2 iif cni0`, vxlan. */
const NODE_ROUTE_VXLAN = '10.244.25.2 from 10.244.3.2 via 10.244.25.0 dev flannel.1 \n    cache iif cni0 \n';
/** The same after `lab break peer-route-missing node1`. */
const NODE_ROUTE_MISSING = '10.244.25.2 from 10.244.3.2 via 192.168.50.1 dev eth0 \n    cache iif cni0 \n';
/** host-gw: `ip route get 10.244.16.2 from 10.244.63.2 iif cni0`. */
const NODE_ROUTE_HOST_GW = '10.244.16.2 from 10.244.63.2 via 192.168.50.12 dev eth0 \n    cache iif cni0 \n';
/** wireguard: `ip route get 10.244.70.2 from 10.244.54.2 iif cni0`. */
const NODE_ROUTE_WG = '10.244.70.2 from 10.244.54.2 dev flannel-wg \n    cache iif cni0 \n';
/** udp: `ip route get 10.244.73.2 from 10.244.42.2 iif cni0`. */
const NODE_ROUTE_UDP = '10.244.73.2 from 10.244.42.2 dev flannel0 \n    cache iif cni0 \n';
/** node2 (vxlan): `ip route get 10.244.25.2 from 10.244.3.2 iif flannel.1`. */
const PEER_ROUTE = '10.244.25.2 from 10.244.3.2 dev cni0 \n    cache iif flannel.1 \n';
/** node1: `ip route get 10.244.3.1 from 10.244.3.2 iif cni0` (cni0's own address). */
const LOCAL_ROUTE = 'local 10.244.3.1 from 10.244.3.2 dev lo \n    cache <local> iif cni0 \n';
/** node1: `ip route get 192.168.50.12`. */
const UNDERLAY_ROUTE = '192.168.50.12 dev eth0 src 192.168.50.11 uid 0 \n    cache \n';

const VTEP_NEIGH = '10.244.25.0 lladdr 82:0e:4b:4b:7b:fb PERMANENT \n';
const POD_NEIGH = '10.244.25.2 lladdr 0e:39:fc:68:dc:22 REACHABLE \n';
const NEIGH_INCOMPLETE = '192.168.50.99 INCOMPLETE \n';
const NEIGH_FAILED = '192.168.50.99 FAILED \n';
const FDB_FLANNEL1 = '82:0e:4b:4b:7b:fb dst 192.168.50.12 self permanent\n';
/** node1: `bridge fdb show br cni0 brport veth5bdfa43c` (node1-pod2's port; its eth0 is e2:19:81:be:eb:07). */
const FDB_BRPORT = `e2:19:81:be:eb:07 master cni0 
1e:39:1d:d9:67:98 master cni0 permanent
33:33:00:00:00:01 self permanent
33:33:00:00:00:02 self permanent
01:00:5e:00:00:01 self permanent
33:33:ff:d9:67:98 self permanent
33:33:ff:00:00:00 self permanent
`;

/** node1 of a 3-node wireguard lab: `wg show flannel-wg`. */
const WG_SHOW = `interface: flannel-wg
  public key: zCd6IToRhX3XgPrPXv7LU1HHiVjMvLLJVFa7egWIfSI=
  private key: (hidden)
  listening port: 51820

peer: eec5b0XbsECveU5RbrMwP75YiVZwZlyI0D6J7rU9XQk=
  preshared key: (hidden)
  endpoint: 192.168.50.13:51820
  allowed ips: 10.244.2.0/24
  latest handshake: 9 seconds ago
  transfer: 1.18 KiB received, 1.43 KiB sent

peer: e7otAbLK61rEalPYunh+NS04Rce7altUWROR0Y5pjFY=
  preshared key: (hidden)
  endpoint: 192.168.50.12:51820
  allowed ips: 10.244.61.0/24
  latest handshake: 10 seconds ago
  transfer: 1.28 KiB received, 1.33 KiB sent
`;

/** udp lab: `etcdctl --endpoints=http://192.168.50.2:2379 get /coreos.com/network/subnets/10.244.73.0-24`. */
const LEASE = '/coreos.com/network/subnets/10.244.73.0-24\n{"PublicIP":"192.168.50.12","PublicIPv6":null,"BackendType":"udp"}\n';

const VETH = `5: vethd35df5f9@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master cni0 state UP mode DEFAULT group default 
    link/ether d2:66:32:ce:f4:4b brd ff:ff:ff:ff:ff:ff link-netns hA096606-n1-p1 promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535 
    veth 
    bridge_slave state forwarding priority 32 cost 2 hairpin on guard off root_block off fastleave off learning on flood on port_id 0x8001 port_no 0x1 designated_port 32769 designated_cost 0 designated_bridge 8000.66:6d:c0:b5:a8:d3 designated_root 8000.66:6d:c0:b5:a8:d3 hold_timer    0.00 message_age_timer    0.00 forward_delay_timer    0.00 topology_change_ack 0 config_pending 0 proxy_arp off proxy_arp_wifi off mcast_router 1 mcast_fast_leave off mcast_flood on bcast_flood on mcast_to_unicast off neigh_suppress off group_fwd_mask 0 group_fwd_mask_str 0x0 vlan_tunnel off isolated off locked off addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536 
`;

const CNI0 = `4: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000
    link/ether 66:6d:c0:b5:a8:d3 brd ff:ff:ff:ff:ff:ff
    inet 10.244.3.1/24 brd 10.244.3.255 scope global cni0
       valid_lft forever preferred_lft forever
    inet6 fe80::646d:c0ff:feb5:a8d3/64 scope link 
       valid_lft forever preferred_lft forever
`;

const FORWARD = '-P FORWARD ACCEPT\n-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n';
const FLANNEL_FWD = `-N FLANNEL-FWD
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
`;
/** After `lab break forward-drop node1`. */
const FORWARD_DROP = '-P FORWARD DROP\n';
const POSTROUTING = '-P POSTROUTING ACCEPT\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n';
const FLANNEL_POSTRTG = `-N FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.3.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
`;
/** node2 after `lab break udp-blocked node2` (vxlan). */
const INPUT_BLOCKED = '-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 8472 -j DROP\n';

/** host-gw + nftables, node1: `nft list chain ip flannel-ipv4 forward`, then `... postrtg`. */
const NFT_FORWARD = `table ip flannel-ipv4 {
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip saddr 10.244.0.0/16 accept
		ip daddr 10.244.0.0/16 accept
	}
}
`;
const NFT_POSTRTG = `table ip flannel-ipv4 {
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 return
		ip saddr 10.244.63.0/24 ip daddr 10.244.0.0/16 return
		ip saddr 10.244.0.0/16 ip daddr 10.244.63.0/24 return
		ip saddr != 10.244.0.0/16 ip daddr 10.244.63.0/24 return
		ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random
		ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random
	}
}
`;
/** The same lab after `lab break forward-drop node1`: flanneld's forward chain is empty. */
const NFT_FORWARD_FLUSHED = `table ip flannel-ipv4 {
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
	}
}
`;

// ---- tests ----------------------------------------------------------------------------------------

const ip = (s: string): IPAddress => IPAddress.parse(s);
const chains = (outputs: Record<string, string>, parse: (text: string, name: string) => Chain = parseIptablesChain) => (name: string): Chain | undefined =>
  outputs[name] === undefined ? undefined : parse(outputs[name], name);

describe('lab path: reading ip route get', () => {
  it('reads the pod route, the node routes of every backend, and a typed route', () => {
    assert.deepEqual(parseRouteGet(POD_ROUTE), { dst: '10.244.25.2', via: '10.244.3.1', dev: 'eth0', src: '10.244.3.2' });
    assert.deepEqual(parseRouteGet(POD_ROUTE_SAME_NODE), { dst: '10.244.3.3', via: undefined, dev: 'eth0', src: '10.244.3.2' });
    assert.deepEqual(parseRouteGet(NODE_ROUTE_VXLAN), { dst: '10.244.25.2', via: '10.244.25.0', dev: 'flannel.1', src: undefined });
    assert.equal(parseRouteGet(NODE_ROUTE_WG)?.dev, 'flannel-wg');
    assert.equal(parseRouteGet(NODE_ROUTE_UDP)?.dev, 'flannel0');
    assert.deepEqual(parseRouteGet(UNDERLAY_ROUTE), { dst: '192.168.50.12', via: undefined, dev: 'eth0', src: '192.168.50.11' });
    assert.deepEqual(parseRouteGet(LOCAL_ROUTE), { type: 'local', dst: '10.244.3.1', via: undefined, dev: 'lo', src: undefined });
    assert.equal(parseRouteGet(''), undefined);
  });

  const o = { node: 'node1', bridge: 'cni0', dstSubnet: '10.244.25.0/24', peer: { name: 'node2', underlayIP: '192.168.50.12' }, gateway: '192.168.50.1' };
  const decide = (text: string, over: Partial<typeof o> = {}) => routeDecision(parseRouteGet(text) ?? { dst: '' }, { ...o, ...over });

  it('a tunnel device or a host route via the peer is the fabric', () => {
    assert.deepEqual(decide(NODE_ROUTE_VXLAN), { kind: 'tunnel', ok: true, summary: "node1 routes it into flannel.1 towards 10.244.25.0, node2's VTEP address (onlink): VXLAN" });
    assert.match(decide(NODE_ROUTE_WG).summary, /^node1 routes it into flannel-wg: WireGuard, one route for the whole network: the peer is picked by its allowed ips$/);
    assert.equal(decide(NODE_ROUTE_UDP).kind, 'tunnel');
    assert.deepEqual(decide(NODE_ROUTE_HOST_GW, { dstSubnet: '10.244.16.0/24' }), {
      kind: 'host-route',
      ok: true,
      summary: 'node1 routes 10.244.16.0/24 via 192.168.50.12 (node2) out of eth0: a host route, no tunnel',
    });
  });

  it('only the default route (lab break peer-route-missing) is no route of the fabric; so is another node or a local route', () => {
    assert.deepEqual(decide(NODE_ROUTE_MISSING), {
      kind: 'none',
      ok: false,
      summary: "no route of the fabric for 10.244.25.0/24: only the default route via 192.168.50.1 matches, so it would leave for the lab's gateway",
    });
    assert.deepEqual(decide(NODE_ROUTE_HOST_GW, { peer: { name: 'node3', underlayIP: '192.168.50.13' } }), {
      kind: 'none',
      ok: false,
      summary: 'node1 routes 10.244.25.0/24 via 192.168.50.12 out of eth0, not via node3 (192.168.50.13)',
    });
    assert.deepEqual(decide(LOCAL_ROUTE), { kind: 'none', ok: false, summary: 'node1 has a local route for it: the packet is dropped' });
    assert.equal(decide(PEER_ROUTE).kind, 'local', 'back into cni0');
  });
});

describe('lab path: neighbours, FDB, WireGuard peers, leases', () => {
  it('reads neighbour entries with and without a MAC', () => {
    assert.deepEqual(parseNeighbour(VTEP_NEIGH), { ip: '10.244.25.0', lladdr: '82:0e:4b:4b:7b:fb', state: 'PERMANENT' });
    assert.deepEqual(parseNeighbour(NEIGH_FAILED), { ip: '192.168.50.99', lladdr: undefined, state: 'FAILED' });
    assert.equal(parseNeighbour(''), undefined);
  });

  it('an absent neighbour on the bridge is fine (ARP on demand), a failed one breaks the path', () => {
    const o = { node: 'node2', bridge: 'cni0', ip: '10.244.25.2' };
    assert.deepEqual(bridgeNeighbourDecision(parseNeighbour(POD_NEIGH), o), { ok: true, summary: 'node2 knows 10.244.25.2 on cni0 as 0e:39:fc:68:dc:22 (REACHABLE)' });
    assert.deepEqual(bridgeNeighbourDecision(undefined, o), { ok: true, summary: 'node2 has no neighbour entry for 10.244.25.2 on cni0 yet: ARP resolves it on demand' });
    assert.equal(bridgeNeighbourDecision(parseNeighbour(NEIGH_INCOMPLETE), o).ok, true);
    assert.deepEqual(bridgeNeighbourDecision(parseNeighbour(NEIGH_FAILED), o), { ok: false, summary: "node2's ARP for 10.244.25.2 on cni0 failed: the pod does not answer" });
  });

  it('finds the FDB entry of a MAC: the VTEP with its underlay dst, a pod learned on a bridge port', () => {
    assert.deepEqual(fdbEntry(FDB_FLANNEL1, '82:0E:4B:4B:7B:FB'), { line: '82:0e:4b:4b:7b:fb dst 192.168.50.12 self permanent', dst: '192.168.50.12' });
    assert.deepEqual(fdbEntry(FDB_BRPORT, 'e2:19:81:be:eb:07'), { line: 'e2:19:81:be:eb:07 master cni0', dst: undefined });
    assert.equal(fdbEntry(FDB_FLANNEL1, 'aa:bb:cc:dd:ee:ff'), undefined);
  });

  it('picks the WireGuard peer whose allowed ips hold the address, with its endpoint', () => {
    const peer = wireguardPeerFor(WG_SHOW, ip('10.244.61.2'));
    assert.equal(peer?.key, 'e7otAbLK61rEalPYunh+NS04Rce7altUWROR0Y5pjFY=');
    assert.deepEqual(peer?.endpoint, { host: '192.168.50.12', port: 51820 });
    assert.deepEqual(peer?.allowed.map(String), ['10.244.61.0/24']);
    assert.ok(peer?.text.startsWith('peer: e7otAbLK61rEalPYunh+NS04Rce7altUWROR0Y5pjFY=\n  preshared key: (hidden)\n  endpoint: 192.168.50.12:51820\n'));
    assert.equal(wireguardPeerFor(WG_SHOW, ip('10.244.2.9'))?.endpoint?.host, '192.168.50.13');
    assert.equal(wireguardPeerFor(WG_SHOW, ip('10.244.8.2')), undefined, "node1's own subnet is no peer's");
  });

  it("reads the lease's PublicIP, and nothing from an absent key", () => {
    assert.equal(parseLease(LEASE)?.PublicIP, '192.168.50.12');
    assert.equal(parseLease(''), undefined);
    assert.equal(parseLease('/coreos.com/network/subnets/10.244.73.0-24\nnot json\n'), undefined);
  });
});

describe('lab path: links and addresses', () => {
  it("reads a veth's head and bridge port state, and trims the port's settings", () => {
    assert.deepEqual(parseLinkHead(VETH), { name: 'vethd35df5f9', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], master: 'cni0', state: 'UP' });
    assert.equal(bridgePortState(VETH), 'forwarding');
    const trimmed = trimLinkDetail(VETH).split('\n');
    assert.equal(trimmed.length, 4);
    assert.equal(trimmed[3], '    bridge_slave state forwarding …');
    assert.equal(trimmed[0], '5: vethd35df5f9@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master cni0 state UP mode DEFAULT group default');
  });

  it('reads the IPv4 addresses of ip addr show and leaves out IPv6 and lifetimes', () => {
    assert.deepEqual(inetAddresses(CNI0), ['10.244.3.1/24']);
    assert.equal(
      trimAddr(CNI0),
      '4: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000\n    link/ether 66:6d:c0:b5:a8:d3 brd ff:ff:ff:ff:ff:ff\n    inet 10.244.3.1/24 brd 10.244.3.255 scope global cni0',
    );
    assert.equal(parseLinkHead(CNI0)?.master, undefined);
  });
});

describe('lab path: the chains a packet crosses', () => {
  const pod2pod: Packet = { src: ip('10.244.3.2'), dst: ip('10.244.25.2'), iif: 'cni0', oif: 'flannel.1' };

  it('parses iptables -S rules: negations, modules, targets and their options', () => {
    const r = parseIptablesRule('-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "flanneld masq" -j RETURN');
    assert.deepEqual(r.matches, [
      { field: 'src', negated: true, value: '10.244.0.0/16' },
      { field: 'dst', negated: false, value: '10.244.3.0/24' },
    ]);
    assert.deepEqual(r.action, { kind: 'verdict', verdict: 'return' });
    assert.deepEqual(parseIptablesRule('-A INPUT -p udp -m udp --dport 8472 -j DROP').matches.map((m) => `${m.field}=${m.value}`), ['proto=udp', 'dport=8472']);
    assert.deepEqual(parseIptablesRule('-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT').unknown, ['-m conntrack', '--ctstate', 'RELATED,ESTABLISHED']);
    assert.deepEqual(parseIptablesRule('-A FORWARD -j DOCKER-USER').action, { kind: 'jump', chain: 'DOCKER-USER' });
    assert.deepEqual(parseIptablesRule('-A FORWARD -j LOG --log-prefix "x y"').action, { kind: 'continue' });
  });

  it('FORWARD: the jump into FLANNEL-FWD accepts the pod network; forward-drop leaves only the DROP policy', () => {
    const v = walkChain(chains({ FORWARD, 'FLANNEL-FWD': FLANNEL_FWD }), 'FORWARD', pod2pod);
    assert.equal(v.verdict, 'accept');
    assert.deepEqual(v.trail.map(ruleShort), ['-A FORWARD -j FLANNEL-FWD', '-A FLANNEL-FWD -s 10.244.0.0/16 -j ACCEPT']);
    const dropped = walkChain(chains({ FORWARD: FORWARD_DROP }), 'FORWARD', pod2pod);
    assert.deepEqual({ verdict: dropped.verdict, by: dropped.by }, { verdict: 'drop', by: '-P FORWARD DROP' });
    const outside = walkChain(chains({ FORWARD: FORWARD_DROP.replace('\n', '\n-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n'), 'FLANNEL-FWD': FLANNEL_FWD }), 'FORWARD', { src: ip('192.168.9.1'), dst: ip('8.8.8.8') });
    assert.equal(outside.verdict, 'drop', 'not the cluster network: FLANNEL-FWD returns, the policy drops');
  });

  it('POSTROUTING: pod to pod RETURNs (not masqueraded), pod to the outside is masqueraded', () => {
    const nat = chains({ POSTROUTING, 'FLANNEL-POSTRTG': FLANNEL_POSTRTG });
    const v = walkChain(nat, 'POSTROUTING', pod2pod);
    assert.equal(v.verdict, 'accept');
    assert.deepEqual(v.trail.map(ruleShort), ['-A POSTROUTING -j FLANNEL-POSTRTG', '-A FLANNEL-POSTRTG -s 10.244.3.0/24 -d 10.244.0.0/16 -j RETURN', '-P POSTROUTING ACCEPT']);
    const out = walkChain(nat, 'POSTROUTING', { src: ip('10.244.3.2'), dst: ip('1.1.1.1'), oif: 'eth0' });
    assert.equal(out.verdict, 'masquerade');
    assert.equal(ruleShort(out.by), '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully');
  });

  it("INPUT: udp-blocked drops the backend's port and nothing else", () => {
    const input = chains({ INPUT: INPUT_BLOCKED });
    const vxlan: Packet = { src: ip('192.168.50.11'), dst: ip('192.168.50.12'), iif: 'eth0', proto: 'udp', dport: 8472 };
    assert.deepEqual(walkChain(input, 'INPUT', vxlan).by, '-A INPUT -p udp -m udp --dport 8472 -j DROP');
    assert.equal(walkChain(input, 'INPUT', { ...vxlan, dport: 51820 }).verdict, 'accept');
    assert.deepEqual(walkChain(input, 'INPUT', { ...vxlan, proto: undefined }).skipped, ['-A INPUT -p udp -m udp --dport 8472 -j DROP'], 'a rule on what the trace does not know is skipped, and said');
  });

  it('nftables: the forward chain accepts the pod network, flushed it decides nothing; postrtg returns pod to pod', () => {
    const nft = (text: string, name: string) => chains({ [name]: text }, parseNftChain);
    const hostGw: Packet = { src: ip('10.244.63.2'), dst: ip('10.244.16.2'), iif: 'cni0', oif: 'eth0' };
    const fwd = walkChain(nft(NFT_FORWARD, 'forward'), 'forward', hostGw);
    assert.deepEqual({ verdict: fwd.verdict, by: fwd.by }, { verdict: 'accept', by: 'ip saddr 10.244.0.0/16 accept' });
    const flushed = walkChain(nft(NFT_FORWARD_FLUSHED, 'forward'), 'forward', hostGw);
    assert.deepEqual({ verdict: flushed.verdict, by: flushed.by }, { verdict: 'accept', by: 'policy accept' });
    const masq = parseNftChain(NFT_POSTRTG, 'postrtg');
    assert.equal(masq.rules.length, 6);
    assert.deepEqual(masq.rules[0]?.matches, [{ field: 'mark', negated: false, value: '0x00004000/0x00004000' }]);
    const post = walkChain(nft(NFT_POSTRTG, 'postrtg'), 'postrtg', hostGw);
    assert.deepEqual(post.trail, ['ip saddr 10.244.63.0/24 ip daddr 10.244.0.0/16 return', 'policy accept']);
    assert.equal(walkChain(nft(NFT_POSTRTG, 'postrtg'), 'postrtg', { src: ip('10.244.63.2'), dst: ip('9.9.9.9') }).by, 'ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random');
  });
});

describe('lab path: how lab path prints a path', () => {
  const pods = [
    { name: 'node1-pod1', node: 'node1', ns: 'x-n1-p1', ip: '10.244.3.2', containerId: 'a' },
    { name: 'node2-pod1', node: 'node2', ns: 'x-n2-p1', ip: '10.244.25.2', containerId: 'b' },
  ];
  const hop = { command: 'ip route get 10.244.25.2', object: '10.244.25.2 via 10.244.3.1 dev eth0 src 10.244.3.2 uid 0\n    cache' };
  const broken: PodPath = {
    from: 'node1-pod1',
    to: 'node2-pod1',
    complete: false,
    hops: [
      { at: 'node1-pod1', step: 'pod eth0', summary: 'node1-pod1 sends it out of eth0 to its gateway 10.244.3.1', ok: true, ...hop },
      { at: 'node1', step: 'route', summary: 'no route of the fabric for 10.244.25.0/24', ok: false, command: 'ip route get 10.244.25.2 from 10.244.3.2 iif cni0', object: '10.244.25.2 from 10.244.3.2 via 192.168.50.1 dev eth0' },
    ],
  };

  it('numbers the hops, marks the one that breaks, indents command and object, and says where it breaks', () => {
    assert.equal(
      renderPath(broken, pods, 'flannel-ts lab --name x'),
      [
        'path of a packet from node1-pod1 (10.244.3.2 on node1) to node2-pod1 (10.244.25.2 on node2), as the kernels hold it now:',
        '',
        ' 1  node1-pod1  pod eth0  ok      node1-pod1 sends it out of eth0 to its gateway 10.244.3.1',
        '      $ ip route get 10.244.25.2',
        '        10.244.25.2 via 10.244.3.1 dev eth0 src 10.244.3.2 uid 0',
        '            cache',
        ' 2  node1       route     BREAKS  no route of the fabric for 10.244.25.0/24',
        '      $ ip route get 10.244.25.2 from 10.244.3.2 iif cni0',
        '        10.244.25.2 from 10.244.3.2 via 192.168.50.1 dev eth0',
        '',
        'path broken at hop 2 (node1, route): no route of the fabric for 10.244.25.0/24; "flannel-ts lab --name x doctor node1" checks that node',
      ].join('\n'),
    );
  });

  it('a complete path ends with the count of hops', () => {
    const ok: PodPath = { ...broken, complete: true, hops: [broken.hops[0] as PodPath['hops'][number]] };
    assert.equal(renderPath(ok, pods, 'x').split('\n').at(-1), 'path complete: node1-pod1 reaches node2-pod1 in 1 hop');
  });
});
