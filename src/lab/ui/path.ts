/**
 * @module lab/ui/path
 * The path of a packet from one lab pod to another, hop by hop, as the kernel sees it now: the
 * pod's route, its veth and bridge, the node's routing decision, the filter and NAT chains it
 * crosses, the backend's peer entry (VXLAN neighbour and FDB, WireGuard peer, flanneld's lease,
 * the underlay neighbour), the underlay, then the same on the peer node down to the other pod.
 * Every hop carries the command that shows its kernel object and what that command printed; the
 * trace stops at the first hop where the packet would not go on. Parsing of the commands' output
 * and the decisions taken from it are small pure functions (tested with captured output).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Cidr, IPAddress } from '../../ip/index.ts';
import { parseSubnetEnv } from '../../subnetenv/index.ts';
import { ETCD_PREFIX, UNDERLAY, nodeMachine, type Cluster, type LabNode } from '../cluster.ts';
import { usageError } from '../command-kit.ts';
import type { LabPod } from '../lab-pods.ts';
import { Netns } from '../netns.ts';
import { type Chain, type ChainVerdict, type Packet, parseIptablesChain, parseNftChain, ruleShort, walkChain } from './path-chains.ts';
import { type Neighbour, type RouteGet, bridgePortState, fdbEntry, inetAddresses, parseLease, parseLinkHead, parseNeighbour, parseRouteGet, trimAddr, trimLinkDetail, wireguardPeerFor } from './path-parse.ts';
import type { PathHop, PodPath } from './snapshot-types.ts';

/** The overlay devices flanneld routes into, and how each carries a pod packet between nodes. */
const TUNNELS: Record<string, { readonly name: string; readonly note: string; readonly udpPort?: (nc: LabNetconf) => number }> = {
  'flannel.1': { name: 'VXLAN', note: 'VXLAN', udpPort: (nc) => nc.Backend.Port ?? 8472 },
  'flannel-wg': { name: 'WireGuard', note: 'WireGuard, one route for the whole network: the peer is picked by its allowed ips', udpPort: (nc) => nc.Backend.ListenPort ?? 51820 },
  flannel0: { name: "flanneld's UDP encapsulation", note: "flanneld's TUN device, one route for the whole network: flanneld reads the packet and sends it on in UDP", udpPort: (nc) => nc.Backend.Port ?? 8285 },
  'flannel.ipip': { name: 'IP in IP (protocol 4)', note: 'IP in IP' },
};

export type RouteKind = 'tunnel' | 'host-route' | 'local' | 'none';

/** How a node's routing decision for a pod on another node reads. */
export interface RouteDecision {
  readonly kind: RouteKind;
  readonly ok: boolean;
  readonly summary: string;
}

/**
 * The source node's decision for `dst` (on `peer`, subnet `dstSubnet`): into an overlay device,
 * a host route via the peer's underlay address, or nothing of the fabric (the lab's default
 * route via its gateway, or another node's address).
 */
export function routeDecision(rg: RouteGet, o: { node: string; bridge: string; dstSubnet: string; peer: { name: string; underlayIP: string }; gateway: string }): RouteDecision {
  const dev = rg.dev ?? '';
  if (rg.type && rg.type !== 'unicast') return { kind: 'none', ok: false, summary: `${o.node} has a ${rg.type} route for it: the packet is dropped` };
  if (TUNNELS[dev]) {
    const towards = rg.via ? ` towards ${rg.via}${dev === 'flannel.1' ? `, ${o.peer.name}'s VTEP address (onlink)` : ''}` : '';
    return { kind: 'tunnel', ok: true, summary: `${o.node} routes it into ${dev}${towards}: ${TUNNELS[dev]?.note}` };
  }
  if (dev === o.bridge) return { kind: 'local', ok: false, summary: `${o.node} routes it back into ${dev}, as if ${o.peer.name}'s subnet ${o.dstSubnet} were its own` };
  if (rg.via === o.peer.underlayIP) return { kind: 'host-route', ok: true, summary: `${o.node} routes ${o.dstSubnet} via ${rg.via} (${o.peer.name}) out of ${dev}: a host route, no tunnel` };
  if (rg.via === o.gateway || rg.via === undefined) {
    const what = rg.via ? `only the default route via ${rg.via} matches, so it would leave for the lab's gateway` : `it would go out of ${dev} as if ${o.peer.name}'s pods were on that link`;
    return { kind: 'none', ok: false, summary: `no route of the fabric for ${o.dstSubnet}: ${what}` };
  }
  return { kind: 'none', ok: false, summary: `${o.node} routes ${o.dstSubnet} via ${rg.via} out of ${dev}, not via ${o.peer.name} (${o.peer.underlayIP})` };
}

/** What a neighbour entry on the destination's bridge means for the last step. */
export function bridgeNeighbourDecision(n: Neighbour | undefined, o: { node: string; bridge: string; ip: string }): { ok: boolean; summary: string } {
  if (!n) return { ok: true, summary: `${o.node} has no neighbour entry for ${o.ip} on ${o.bridge} yet: ARP resolves it on demand` };
  if (n.state === 'FAILED') return { ok: false, summary: `${o.node}'s ARP for ${o.ip} on ${o.bridge} failed: the pod does not answer` };
  if (n.state === 'INCOMPLETE') return { ok: true, summary: `${o.node} is resolving ${o.ip} on ${o.bridge} (ARP in progress)` };
  return { ok: true, summary: `${o.node} knows ${o.ip} on ${o.bridge} as ${n.lladdr ?? '?'} (${n.state})` };
}

// ---- the trace ------------------------------------------------------------------------------------

const LabNetconfSchema = z.looseObject({
  Network: z.string(),
  EnableNFTables: z.boolean().optional(),
  Backend: z.looseObject({ Type: z.string(), Port: z.number().optional(), ListenPort: z.number().optional(), DirectRouting: z.boolean().optional() }),
});
type LabNetconf = z.infer<typeof LabNetconfSchema>;

type Exec = (cmd: string, args: string[]) => string;

interface Place {
  /** The pod's or node's lab name. */
  readonly name: string;
  readonly exec: Exec;
}

/** A command's output, or the first line of what it said when it failed. */
interface Ran {
  readonly command: string;
  readonly out?: string;
  readonly error?: string;
}

function shellish(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(' ');
}

function run(place: Place, cmd: string, args: string[]): Ran {
  const command = shellish([cmd, ...args]);
  try {
    return { command, out: place.exec(cmd, args) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Netns/Machine.exec say "[ns] <command> failed: <stderr>": keep what the command itself said.
    const said = message.replace(/^\[[^\]]*\] .*? failed: /s, '');
    return { command, error: said.split('\n').find((l) => l.trim() !== '')?.trim() ?? message };
  }
}

const trimmed = (text: string): string =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();

class Trace {
  readonly hops: PathHop[] = [];

  add(at: string, step: string, ok: boolean, summary: string, ran: Ran | readonly Ran[], object?: string): boolean {
    const all = Array.isArray(ran) ? (ran as readonly Ran[]) : [ran as Ran];
    this.hops.push({
      at,
      step,
      summary,
      command: all.map((r) => r.command).join('; '),
      object: object ?? all.map((r) => trimmed(r.out ?? r.error ?? '')).filter(Boolean).join('\n'),
      ok,
    });
    return ok;
  }

  /** A hop whose command failed: broken there, the failure is its object. */
  failed(at: string, step: string, summary: string, ran: Ran): false {
    this.add(at, step, false, `${summary}: ${ran.error ?? 'no output'}`, ran);
    return false;
  }
}

/** A pod's veth on its node, found by the pod eth0's peer ifindex. */
interface PodLink {
  readonly veth?: string;
  readonly bridge?: string;
  readonly mac?: string;
  /** Why it was not found. */
  readonly problem?: string;
  readonly lookup: Ran;
}

function findVeth(pod: LabPod, podPlace: Place, nodePlace: Place): PodLink {
  const own = run(podPlace, 'ip', ['-j', 'link', 'show', 'eth0']);
  if (own.error !== undefined) return { problem: `${pod.name} has no eth0`, lookup: own };
  const eth0 = (JSON.parse(own.out ?? '[]') as Array<{ link_index?: number; address?: string }>)[0];
  const links = run(nodePlace, 'ip', ['-j', 'link']);
  if (links.error !== undefined) return { problem: `cannot list ${nodePlace.name}'s links`, lookup: links };
  const peer = (JSON.parse(links.out ?? '[]') as Array<{ ifindex: number; ifname: string; master?: string }>).find((l) => l.ifindex === eth0?.link_index);
  if (!peer) return { mac: eth0?.address, problem: `no link of ${nodePlace.name} has ifindex ${eth0?.link_index ?? '?'}, the peer of ${pod.name}'s eth0`, lookup: links };
  return { veth: peer.ifname, bridge: peer.master, mac: eth0?.address, lookup: links };
}

interface Ends {
  readonly cluster: Cluster;
  readonly netconf: LabNetconf;
  readonly src: LabPod;
  readonly dst: LabPod;
  readonly srcNode: LabNode;
  readonly dstNode: LabNode;
}

const nodePlace = (node: LabNode): Place => {
  const machine = nodeMachine(node);
  return { name: node.name, exec: (cmd, args) => machine.exec(cmd, args) };
};
const podPlace = (pod: LabPod): Place => {
  const ns = new Netns(pod.ns);
  return { name: pod.name, exec: (cmd, args) => ns.exec(cmd, args) };
};

/** The node's pod subnet from its subnet.env ("10.244.25.0/24"), or the pod's /24 when there is none. */
function subnetOf(node: LabNode, pod: LabPod): string {
  try {
    const s = parseSubnetEnv(readFileSync(node.subnetFile, 'utf8'), node.subnetFile).subnet;
    if (s) return s.toString();
  } catch {
    /* no subnet.env: fall back below */
  }
  return Cidr.parse(`${pod.ip}/24`).toString();
}

function podRouteHop(t: Trace, e: Ends, place: Place): boolean {
  const ran = run(place, 'ip', ['route', 'get', e.dst.ip]);
  if (ran.error !== undefined) return t.failed(e.src.name, 'pod eth0', `${e.src.name} has no route to ${e.dst.ip}`, ran);
  const rg = parseRouteGet(ran.out ?? '');
  if (rg?.dev !== 'eth0') return t.add(e.src.name, 'pod eth0', false, `${e.src.name} routes ${e.dst.ip} to ${rg?.dev ?? 'nothing'}, not out of eth0`, ran);
  return t.add(e.src.name, 'pod eth0', true, rg.via ? `${e.src.name} sends it out of eth0 to its gateway ${rg.via}` : `${e.dst.ip} is on ${e.src.name}'s own subnet: out of eth0 straight to ${e.dst.name}`, ran);
}

function vethHop(t: Trace, pod: LabPod, node: LabNode, link: PodLink, outbound: boolean): boolean {
  if (!link.veth) return t.add(node.name, 'veth', false, link.problem ?? `${pod.name}'s veth is not found`, link.lookup);
  const ran = run(nodePlace(node), 'ip', ['-d', 'link', 'show', link.veth]);
  if (ran.error !== undefined) return t.failed(node.name, 'veth', `${pod.name}'s veth ${link.veth} is gone`, ran);
  const head = parseLinkHead(ran.out ?? '');
  const port = bridgePortState(ran.out ?? '');
  const up = head?.flags.includes('UP') && head.flags.includes('LOWER_UP');
  const object = trimLinkDetail(ran.out ?? '');
  if (!head?.master) return t.add(node.name, 'veth', false, `${link.veth} (${pod.name}'s eth0 peer) is on no bridge: nothing takes the packet on`, ran, object);
  if (!up) return t.add(node.name, 'veth', false, `${link.veth} (${pod.name}'s eth0 peer) is down`, ran, object);
  if (port && port !== 'forwarding') return t.add(node.name, 'veth', false, `${link.veth} is a ${head.master} port in state ${port}, not forwarding`, ran, object);
  const summary = outbound ? `${pod.name}'s eth0 comes out on ${node.name} as ${link.veth}, a port of ${head.master}` : `${head.master} hands it to ${link.veth}, the node end of ${pod.name}'s eth0`;
  return t.add(node.name, 'veth', true, summary, ran, object);
}

function bridgeAddressHop(t: Trace, e: Ends, bridge: string): boolean {
  const ran = run(nodePlace(e.srcNode), 'ip', ['addr', 'show', bridge]);
  if (ran.error !== undefined) return t.failed(e.srcNode.name, bridge, `${e.srcNode.name} has no ${bridge}`, ran);
  const addrs = inetAddresses(ran.out ?? '');
  const own = addrs.find((a) => Cidr.tryParse(a)?.contains(IPAddress.parse(e.src.ip)) === true);
  const object = trimAddr(ran.out ?? '');
  if (!own) return t.add(e.srcNode.name, bridge, false, `${bridge} has no address in ${e.src.name}'s subnet (${addrs.join(', ') || 'none'}): nobody answers the pod's ARP for its gateway`, ran, object);
  return t.add(e.srcNode.name, bridge, true, `${bridge} (${own}) is ${e.src.name}'s gateway: the packet goes up to ${e.srcNode.name}'s routing`, ran, object);
}

/** `ip route get` failing for a forwarded packet: say so, and whether the node forwards at all. */
function routeFailure(t: Trace, node: LabNode, ran: Ran): false {
  const fwd = run(nodePlace(node), 'sysctl', ['-n', 'net.ipv4.ip_forward']);
  const off = fwd.out?.trim() === '0' ? ` (net.ipv4.ip_forward = 0: ${node.name} does not forward)` : '';
  return t.failed(node.name, 'route', `${node.name} refuses to route it${off}`, ran);
}

/** The chains of the hook (forward or postrouting) the packet crosses on `node`: iptables, and the lab's nftables table. */
function chainsHop(t: Trace, e: Ends, node: LabNode, hook: 'forward' | 'postrouting', p: Packet, extra: readonly Ran[] = []): boolean {
  const place = nodePlace(node);
  const ran: Ran[] = [...extra];
  const verdicts: Array<{ engine: string; v: ChainVerdict }> = [];
  if (e.netconf.EnableNFTables) {
    const chain = hook === 'forward' ? 'forward' : 'postrtg';
    const r = run(place, 'nft', ['list', 'chain', 'ip', 'flannel-ipv4', chain]);
    ran.push(r);
    const parsed = r.out === undefined ? undefined : parseNftChain(r.out, chain);
    verdicts.push({ engine: `nft flannel-ipv4 ${chain}`, v: walkChain((n) => (n === chain ? parsed : undefined), chain, p) });
  }
  const table = hook === 'forward' ? [] : ['-t', 'nat'];
  const base = hook === 'forward' ? 'FORWARD' : 'POSTROUTING';
  const fetched = new Map<string, Chain | undefined>();
  const chainOf = (name: string): Chain | undefined => {
    if (!fetched.has(name)) {
      const r = run(place, 'iptables', [...table, '-S', name]);
      ran.push(r);
      fetched.set(name, r.out === undefined ? undefined : parseIptablesChain(r.out, name));
    }
    return fetched.get(name);
  };
  verdicts.push({ engine: `iptables ${base}`, v: walkChain(chainOf, base, p) });
  const skipped = verdicts.flatMap((x) => x.v.skipped);
  const note = skipped.length ? ` (${skipped.length} rule${skipped.length === 1 ? '' : 's'} testing what the trace does not know skipped: ${skipped.join('; ')})` : '';
  const said = (x: { engine: string; v: ChainVerdict }): string => `${x.engine}: ${x.v.trail.map(ruleShort).join(' → ')}`;
  if (hook === 'forward') {
    const dropped = verdicts.find((x) => x.v.verdict === 'drop' || x.v.verdict === 'reject');
    if (dropped) return t.add(node.name, 'FORWARD', false, `${node.name} ${dropped.v.verdict === 'reject' ? 'rejects' : 'drops'} it in FORWARD: ${said(dropped)}${note}`, ran);
    return t.add(node.name, 'FORWARD', true, `${node.name} forwards it: ${verdicts.map(said).join('; ')}${note}`, ran);
  }
  const nat = verdicts.find((x) => ['masquerade', 'snat'].includes(x.v.verdict));
  if (nat) return t.add(node.name, 'POSTROUTING', true, `${node.name} masquerades it (${said(nat)}): ${e.dst.name} sees ${node.name}'s address, not ${e.src.ip}${note}`, ran);
  return t.add(node.name, 'POSTROUTING', true, `not masqueraded, pod to pod keeps ${e.src.ip}: ${verdicts.map(said).join('; ')}${note}`, ran);
}

/** Where the backend sends the packet: the peer's underlay address, read from the backend's own entry. */
interface PeerSend {
  readonly underlayIP: string;
  /** UDP port of the encapsulation, when there is one. */
  readonly udpPort?: number;
}

function peerObjectHop(t: Trace, e: Ends, rg: RouteGet): PeerSend | undefined {
  const place = nodePlace(e.srcNode);
  const at = e.srcNode.name;
  const dev = rg.dev ?? '';
  if (dev === 'flannel.1') {
    if (!rg.via) return void t.add(at, 'flannel.1', false, 'the route into flannel.1 names no VTEP address', []);
    const neigh = run(place, 'ip', ['neigh', 'show', rg.via, 'dev', dev]);
    if (neigh.error !== undefined) return void t.failed(at, 'flannel.1', `cannot read ${at}'s neighbours on flannel.1`, neigh);
    const n = parseNeighbour(neigh.out ?? '');
    if (!n?.lladdr) return void t.add(at, 'flannel.1', false, `no neighbour entry for ${rg.via} on flannel.1: ${at} does not know ${e.dstNode.name}'s VTEP MAC (flanneld adds it from the lease)`, neigh, n ? undefined : '(no entry)');
    if (!t.add(at, 'flannel.1', true, `${rg.via} is ${e.dstNode.name}'s VTEP MAC ${n.lladdr} (${n.state})`, neigh)) return undefined;
    const fdb = run(place, 'bridge', ['fdb', 'show', 'dev', dev]);
    if (fdb.error !== undefined) return void t.failed(at, 'FDB', `cannot read ${at}'s FDB of flannel.1`, fdb);
    const entry = fdbEntry(fdb.out ?? '', n.lladdr);
    if (!entry?.dst) return void t.add(at, 'FDB', false, `no FDB entry for ${n.lladdr} on flannel.1: ${at} does not know where ${e.dstNode.name}'s VTEP is`, fdb, entry?.line ?? '(no entry for that MAC)');
    t.add(at, 'FDB', true, `the FDB sends ${n.lladdr} to ${entry.dst} in VXLAN`, fdb, entry.line);
    return { underlayIP: entry.dst, udpPort: TUNNELS[dev]?.udpPort?.(e.netconf) };
  }
  if (dev === 'flannel-wg') {
    const ran = run(place, 'wg', ['show', dev]);
    if (ran.error !== undefined) return void t.failed(at, dev, `cannot read ${at}'s WireGuard device`, ran);
    const peer = wireguardPeerFor(ran.out ?? '', IPAddress.parse(e.dst.ip));
    if (!peer) return void t.add(at, dev, false, `no WireGuard peer of ${at} has ${e.dst.ip} in its allowed ips: WireGuard drops it`, ran);
    if (!peer.endpoint) return void t.add(at, dev, false, `the peer for ${e.dst.ip} has no endpoint: WireGuard cannot send it`, ran, peer.text);
    t.add(at, dev, true, `WireGuard peer ${peer.key.slice(0, 8)}… holds ${peer.allowed.map(String).join(', ')}; its endpoint is ${peer.endpoint.host}:${peer.endpoint.port}`, ran, peer.text);
    return { underlayIP: peer.endpoint.host, udpPort: peer.endpoint.port };
  }
  if (dev === 'flannel0') {
    const key = `${ETCD_PREFIX}/subnets/${subnetOf(e.dstNode, e.dst).replace('/', '-')}`;
    const ran = run(place, 'etcdctl', [`--endpoints=${e.cluster.etcdEndpoints.join(',')}`, 'get', key]);
    if (ran.error !== undefined) return void t.failed(at, dev, `flanneld cannot be asked where ${e.dst.ip} lives: etcd does not answer`, ran);
    const lease = parseLease(ran.out ?? '');
    if (!lease) return void t.add(at, dev, false, `no lease ${key} in etcd: flanneld has nowhere to send it (ICMP network unreachable)`, ran, trimmed(ran.out ?? '') || '(no such key)');
    const port = TUNNELS[dev]?.udpPort?.(e.netconf);
    t.add(at, dev, true, `flanneld reads it from flannel0; the lease of ${e.dstNode.name}'s subnet says PublicIP ${lease.PublicIP}: it sends it there in UDP ${port}`, ran);
    return { underlayIP: lease.PublicIP, udpPort: port };
  }
  if (dev === 'flannel.ipip') {
    if (!rg.via) return void t.add(at, dev, false, 'the route into flannel.ipip names no peer address', []);
    return { underlayIP: rg.via };
  }
  // A host route: the next hop is the peer's underlay address on this link.
  const via = rg.via ?? '';
  const neigh = run(place, 'ip', ['neigh', 'show', via, 'dev', dev]);
  if (neigh.error !== undefined) return void t.failed(at, dev, `cannot read ${at}'s neighbours on ${dev}`, neigh);
  const n = parseNeighbour(neigh.out ?? '');
  if (n?.state === 'FAILED') return void t.add(at, dev, false, `${at}'s ARP for ${via} on ${dev} failed: the peer does not answer on the underlay`, neigh);
  t.add(at, dev, true, n?.lladdr ? `${via} is ${n.lladdr} on ${dev} (${n.state})` : `no neighbour entry for ${via} on ${dev} yet: ARP resolves it on demand`, neigh, n ? undefined : '(no entry)');
  return { underlayIP: via };
}

function underlayHop(t: Trace, e: Ends, dev: string, send: PeerSend): { srcUnderlay: string } | undefined {
  const peer = e.cluster.nodes.find((n) => n.underlayIP === send.underlayIP);
  const ran = run(nodePlace(e.srcNode), 'ip', ['route', 'get', send.underlayIP]);
  if (ran.error !== undefined) return void t.failed('underlay', 'underlay', `${e.srcNode.name} cannot reach ${send.underlayIP}`, ran);
  const rg = parseRouteGet(ran.out ?? '');
  if (peer !== e.dstNode) {
    return void t.add('underlay', 'underlay', false, `the fabric sends it to ${send.underlayIP}${peer ? ` (${peer.name})` : ', no node of the lab'}, but ${e.dst.name} is on ${e.dstNode.name} (${e.dstNode.underlayIP})`, ran);
  }
  const tunnel = TUNNELS[dev];
  const how = tunnel
    ? `${tunnel.name}: the pod packet inside ${send.udpPort !== undefined ? `UDP ${send.udpPort}` : 'an outer IP header'}`
    : 'plain routed IP: the pod packet itself';
  const src = rg?.src ?? e.srcNode.underlayIP;
  t.add('underlay', 'underlay', true, `${how}, from ${e.srcNode.name} (${src}) to ${e.dstNode.name} (${send.underlayIP}) out of ${rg?.dev ?? '?'}`, ran);
  return { srcUnderlay: src };
}

function inputHop(t: Trace, e: Ends, p: Packet): boolean {
  const place = nodePlace(e.dstNode);
  const fetched = new Map<string, Chain | undefined>();
  const ran: Ran[] = [];
  const chainOf = (name: string): Chain | undefined => {
    if (!fetched.has(name)) {
      const r = run(place, 'iptables', ['-S', name]);
      ran.push(r);
      fetched.set(name, r.out === undefined ? undefined : parseIptablesChain(r.out, name));
    }
    return fetched.get(name);
  };
  const v = walkChain(chainOf, 'INPUT', p);
  const what = `UDP ${p.dport} from ${p.src.toString()}`;
  if (v.verdict === 'drop' || v.verdict === 'reject') return t.add(e.dstNode.name, 'INPUT', false, `${e.dstNode.name} ${v.verdict === 'drop' ? 'drops' : 'rejects'} the ${what} in INPUT: ${v.trail.map(ruleShort).join(' → ')}`, ran);
  return t.add(e.dstNode.name, 'INPUT', true, `${e.dstNode.name} takes the ${what} in: ${v.trail.map(ruleShort).join(' → ')}`, ran);
}

function peerRouteHop(t: Trace, e: Ends, arrival: string, bridge: string): boolean {
  const ran = run(nodePlace(e.dstNode), 'ip', ['route', 'get', e.dst.ip, 'from', e.src.ip, 'iif', arrival]);
  if (ran.error !== undefined) return routeFailure(t, e.dstNode, ran);
  const rg = parseRouteGet(ran.out ?? '');
  if (rg?.dev !== bridge || (rg.type && rg.type !== 'unicast')) return t.add(e.dstNode.name, 'route', false, `${e.dstNode.name} routes it ${rg?.type ? `as ${rg.type} ` : ''}to ${rg?.dev ?? 'nothing'}, not to ${bridge} where ${e.dst.name} is`, ran);
  return t.add(e.dstNode.name, 'route', true, `${e.dstNode.name} takes it from ${arrival} and routes it to ${bridge}, ${e.dst.name}'s bridge`, ran);
}

function dstPodHop(t: Trace, e: Ends): boolean {
  const ran = run(podPlace(e.dst), 'ip', ['addr', 'show', 'eth0']);
  if (ran.error !== undefined) return t.failed(e.dst.name, 'pod eth0', `${e.dst.name} has no eth0`, ran);
  const head = parseLinkHead(ran.out ?? '');
  const has = inetAddresses(ran.out ?? '').some((a) => a.split('/')[0] === e.dst.ip);
  const object = trimAddr(ran.out ?? '');
  if (!has) return t.add(e.dst.name, 'pod eth0', false, `${e.dst.name}'s eth0 does not hold ${e.dst.ip}`, ran, object);
  if (!head?.flags.includes('UP')) return t.add(e.dst.name, 'pod eth0', false, `${e.dst.name}'s eth0 is down`, ran, object);
  return t.add(e.dst.name, 'pod eth0', true, `${e.dst.name} holds ${e.dst.ip} on eth0: delivered`, ran, object);
}

/** Pods on one node: the bridge forwards the frame from one veth to the other, no routing. */
function sameNode(t: Trace, e: Ends, srcLink: PodLink, dstLink: PodLink): boolean {
  const bridge = srcLink.bridge ?? 'cni0';
  const node = e.srcNode.name;
  if (dstLink.bridge && dstLink.bridge !== bridge) return t.add(node, bridge, false, `${e.dst.name}'s veth is on ${dstLink.bridge}, not on ${bridge}: the bridge cannot reach it`, dstLink.lookup);
  if (dstLink.veth && dstLink.mac) {
    const fdb = run(nodePlace(e.srcNode), 'bridge', ['fdb', 'show', 'br', bridge, 'brport', dstLink.veth]);
    if (fdb.error !== undefined) return t.failed(node, bridge, `cannot read ${bridge}'s FDB`, fdb);
    const entry = fdbEntry(fdb.out ?? '', dstLink.mac);
    const summary = entry
      ? `${bridge} bridges it on ${node}, no routing: it learned ${e.dst.name}'s MAC ${dstLink.mac} on ${dstLink.veth}`
      : `${bridge} bridges it on ${node}, no routing: it has not learned ${dstLink.mac} yet, so it floods the frame to every port, ${dstLink.veth} included`;
    if (!t.add(node, bridge, true, summary, fdb, entry?.line ?? '(not learned yet)')) return false;
  }
  const sysctl = run(nodePlace(e.srcNode), 'sysctl', ['net.bridge.bridge-nf-call-iptables']);
  if (/=\s*1\s*$/.test(sysctl.out ?? '')) {
    if (!chainsHop(t, e, e.srcNode, 'forward', { src: IPAddress.parse(e.src.ip), dst: IPAddress.parse(e.dst.ip), iif: bridge, oif: bridge }, [sysctl])) return false;
  }
  return vethHop(t, e.dst, e.dstNode, dstLink, false) && dstPodHop(t, e);
}

function acrossNodes(t: Trace, e: Ends, srcLink: PodLink, dstLink: PodLink): boolean {
  const bridge = srcLink.bridge ?? 'cni0';
  const srcIP = IPAddress.parse(e.src.ip);
  const dstIP = IPAddress.parse(e.dst.ip);
  const dstSubnet = subnetOf(e.dstNode, e.dst);
  if (!bridgeAddressHop(t, e, bridge)) return false;

  const routeRan = run(nodePlace(e.srcNode), 'ip', ['route', 'get', e.dst.ip, 'from', e.src.ip, 'iif', bridge]);
  if (routeRan.error !== undefined) return routeFailure(t, e.srcNode, routeRan);
  const rg = parseRouteGet(routeRan.out ?? '') ?? { dst: e.dst.ip };
  const decision = routeDecision(rg, { node: e.srcNode.name, bridge, dstSubnet, peer: e.dstNode, gateway: UNDERLAY.gateway });
  if (!t.add(e.srcNode.name, 'route', decision.ok, decision.summary, routeRan)) return false;
  const dev = rg.dev ?? '';

  if (!chainsHop(t, e, e.srcNode, 'forward', { src: srcIP, dst: dstIP, iif: bridge, oif: dev })) return false;
  if (!chainsHop(t, e, e.srcNode, 'postrouting', { src: srcIP, dst: dstIP, iif: bridge, oif: dev })) return false;
  const send = peerObjectHop(t, e, rg);
  if (!send) return false;
  const underlay = underlayHop(t, e, dev, send);
  if (!underlay) return false;
  if (send.udpPort !== undefined && TUNNELS[dev]) {
    const p: Packet = { src: IPAddress.parse(underlay.srcUnderlay), dst: IPAddress.parse(send.underlayIP), iif: 'eth0', proto: 'udp', dport: send.udpPort };
    if (!inputHop(t, e, p)) return false;
  }
  const arrival = TUNNELS[dev] ? dev : 'eth0';
  const dstBridge = dstLink.bridge ?? 'cni0';
  if (!peerRouteHop(t, e, arrival, dstBridge)) return false;
  if (!chainsHop(t, e, e.dstNode, 'forward', { src: srcIP, dst: dstIP, iif: arrival, oif: dstBridge })) return false;
  const neigh = run(nodePlace(e.dstNode), 'ip', ['neigh', 'show', e.dst.ip, 'dev', dstBridge]);
  if (neigh.error !== undefined) return t.failed(e.dstNode.name, dstBridge, `cannot read ${e.dstNode.name}'s neighbours on ${dstBridge}`, neigh);
  const n = parseNeighbour(neigh.out ?? '');
  const nd = bridgeNeighbourDecision(n, { node: e.dstNode.name, bridge: dstBridge, ip: e.dst.ip });
  if (!t.add(e.dstNode.name, dstBridge, nd.ok, nd.summary, neigh, n ? undefined : '(no entry)')) return false;
  return vethHop(t, e.dst, e.dstNode, dstLink, false) && dstPodHop(t, e);
}

/**
 * The path from pod `from` to pod `to` of the lab, hop by hop, read from the kernels of their
 * pods and nodes now. Stops at the first hop that breaks (a failing command is such a hop). Throws
 * a usage error only for pod names the lab does not have.
 */
export function tracePath(cluster: Cluster, pods: readonly LabPod[], from: string, to: string): PodPath {
  const names = pods.map((p) => p.name).join(', ') || 'none';
  const src = pods.find((p) => p.name === from);
  const dst = pods.find((p) => p.name === to);
  for (const [name, pod] of [[from, src], [to, dst]] as const) {
    if (!pod) usageError(`no pod "${name}" in lab "${cluster.spec.prefix}" (pods: ${names})`);
  }
  if (!src || !dst) throw new Error('unreachable');
  if (src === dst) usageError(`"${from}" is both ends of the path: name two different pods (pods: ${names})`);
  const e: Ends = { cluster, netconf: LabNetconfSchema.parse(cluster.spec.netconf), src, dst, srcNode: cluster.node(src.node), dstNode: cluster.node(dst.node) };
  const t = new Trace();
  const srcLink = findVeth(src, podPlace(src), nodePlace(e.srcNode));
  const dstLink = findVeth(dst, podPlace(dst), nodePlace(e.dstNode));
  const complete =
    podRouteHop(t, e, podPlace(src)) &&
    vethHop(t, src, e.srcNode, srcLink, true) &&
    (e.srcNode === e.dstNode ? sameNode(t, e, srcLink, dstLink) : acrossNodes(t, e, srcLink, dstLink));
  return { from, to, hops: t.hops, complete };
}
