/**
 * @module doctor/checks/dataplane
 * The kernel against the leases (seed 002's "one node cannot reach one peer": ip route, bridge
 * fdb, ip neigh, etcd keys): dataplane.device (flannel's device as configured), dataplane.peers
 * (every peer's route / neighbour / FDB entry / WireGuard peer), dataplane.stale (objects no
 * lease wants any more).
 */
import { decodeVxlanData } from '../../backend/vxlan/backend-data.ts';
import { decodeWireguardData } from '../../backend/wireguard/backend-data.ts';
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { backendAndKernel, backendDevices, VXLAN_DEFAULT_PORT, type BackendView } from './backend-view.ts';
import { describeRoute, errorOf, linkByName, listSome, mainRoutes, ownLease, peerLeases, restartFlanneld, subnetOf, valueOf } from './common.ts';
import { expectedObjects, ownedObjects, type PlaneContext, type Present, type Want } from './dataplane-expected.ts';

/** The context, or the skip result saying which fact is missing. */
function context(id: string, f: NodeFacts, needLeases: boolean): PlaneContext | CheckResult {
  const basics = backendAndKernel(id, f);
  if ('status' in basics) return basics;
  const { config, view, kernel } = basics;
  const iface = valueOf(f.iface);
  if (!iface) return skip(id, 'no interface chosen (see iface.chosen)');
  const peers = peerLeases(f);
  if (needLeases && !peers) return skip(id, `leases unreadable (see datastore.reachable): ${errorOf(f.datastore.leases) ?? ''}`);
  const own = ownLease(f);
  const wg = valueOf(f.wireguard);
  if (needLeases && view.wireguard && !wg) return skip(id, `WireGuard devices unreadable: ${errorOf(f.wireguard) ?? ''}`);
  return { kernel, config, view, iface, peers: peers ?? [], ...(own ? { own } : {}), ...(wg ? { wireguard: wg } : {}) };
}

function notProgrammable(view: BackendView): string | undefined {
  if (view.type === 'extension') return 'extension backend: its SubnetAddCommand programs the peers, doctor cannot tell what it should have done';
  if (view.type === 'alloc') return 'alloc backend: programs nothing';
  if (!view.known) return `unknown backend type ${view.type}`;
  return undefined;
}

// ---------- dataplane.device ----------

function device(f: NodeFacts): CheckResult | CheckResult[] {
  const id = 'dataplane.device';
  const ctx = context(id, f, false);
  if ('status' in ctx) return ctx;
  const { kernel, config, view, iface } = ctx;
  const devices = backendDevices(view, config);
  if (devices.length === 0) return skip(id, `${view.type} creates no device`);
  const own = ownLease(f);
  const env = valueOf(f.subnetEnv);
  return devices.map((d) => {
    const link = linkByName(kernel, d.name);
    if (!link) return fail(id, `${d.name} does not exist`, `${restartFlanneld(f)}: it creates ${d.name}`);
    const family = d.carries[0] ?? 4;
    const problems: string[] = [];
    const fixes: string[] = [];
    const recreate = `ip link del ${d.name}, then ${restartFlanneld(f)} (it re-creates it with its lease's MAC)`;
    if (view.vxlan) {
      const x = link.vxlan;
      if (link.kind !== 'vxlan' || !x) problems.push(`it is a ${link.kind ?? 'plain'} device, not vxlan`);
      else {
        const wantPort = view.vxlan.port || VXLAN_DEFAULT_PORT;
        if (x.vni !== view.vxlan.vni) problems.push(`VNI ${x.vni} (config: ${view.vxlan.vni})`);
        if ((x.port || VXLAN_DEFAULT_PORT) !== wantPort) problems.push(`dstport ${x.port} (config: ${wantPort})`);
        if (family === 4 && iface.address && x.local?.toString() !== iface.address) problems.push(`local ${x.local?.toString() ?? 'any'} (${iface.name} has ${iface.address})`);
        if (x.link !== undefined && x.link !== iface.index) problems.push(`bound to ifindex ${x.link}, not ${iface.name} (${iface.index})`);
      }
      if (problems.length > 0) fixes.push(recreate);
      const data = own ? decodeVxlanData(family === 4 ? own.attrs.backendData : own.attrs.backendV6Data) : undefined;
      if (data && 'vtepMac' in data && link.mac !== data.vtepMac) {
        problems.push(`MAC ${link.mac}, but the lease advertises VtepMAC ${data.vtepMac} (peers send to that MAC)`);
        fixes.push(`ip link set ${d.name} address ${data.vtepMac}`);
      }
    }
    if (view.ipip) {
      if (link.kind !== 'ipip') problems.push(`it is a ${link.kind ?? 'plain'} device, not ipip`);
      else if (iface.address && link.ipip?.local?.toString() !== iface.address) problems.push(`local ${link.ipip?.local?.toString() ?? 'any'} (${iface.name} has ${iface.address})`);
      if (problems.length > 0) fixes.push(recreate);
    }
    if (view.wireguard) {
      const wg = valueOf(f.wireguard)?.find((w) => w.name === d.name);
      const spec = view.wireguard;
      const wantPort = d.name.endsWith('-v6') ? spec.listenPortV6 : spec.listenPort;
      const data = own ? decodeWireguardData(family === 4 ? (own.attrs.backendData ?? own.attrs.backendV6Data) : (own.attrs.backendV6Data ?? own.attrs.backendData)) : undefined;
      if (!wg) problems.push(`no WireGuard state readable for ${d.name}${'error' in f.wireguard ? ` (${f.wireguard.error})` : ''}`);
      else {
        if (wg.listenPort !== undefined && wg.listenPort !== wantPort) problems.push(`listen port ${wg.listenPort} (config: ${wantPort})`);
        if (data && 'publicKey' in data && wg.publicKey !== data.publicKey) problems.push(`public key ${wg.publicKey ?? 'none'}, but the lease advertises ${data.publicKey}`);
      }
      if (problems.length > 0) fixes.push(`${restartFlanneld(f)}: it configures ${d.name} from its key file and the config`);
    }
    if (!link.up) {
      problems.push('it is down');
      fixes.push(`ip link set ${d.name} up`);
    }
    const subnet = own ? subnetOf(own, family) : family === 4 ? env?.subnet : env?.ipv6Subnet;
    const addrs = kernel.addrs.filter((a) => a.linkIndex === link.index && a.ip.family === family && !a.ip.isLinkLocalUnicast());
    const addrText = addrs.map((a) => `${a.ip.toString()}/${a.prefix}`);
    if (subnet) {
      const want = `${subnet.ip.toString()}/${subnet.ip.bits}`;
      if (addrText.length !== 1 || addrText[0] !== want) {
        problems.push(`address ${addrText.join(', ') || 'none'} (want ${want} only: the lease's network address)`);
        fixes.push(`ip addr flush dev ${d.name} && ip addr add ${want} dev ${d.name}`);
      }
    }
    const attrs = [
      link.vxlan ? `vxlan id ${link.vxlan.vni} dstport ${link.vxlan.port || VXLAN_DEFAULT_PORT} local ${link.vxlan.local?.toString() ?? 'any'}` : link.kind ?? 'device',
      `mtu ${link.mtu}`,
      link.up ? 'up' : 'down',
      addrText.join(',') || 'no address',
      ...(link.mac ? [`mac ${link.mac}`] : []),
    ];
    const saw = `${d.name}: ${attrs.join(', ')}`;
    if (problems.length > 0) return fail(id, `${saw}: ${problems.join('; ')}`, [...new Set(fixes)].slice(0, 2).join('\n'));
    return ok(id, saw);
  });
}

// ---------- dataplane.peers ----------

function wantText(w: Want): string {
  switch (w.kind) {
    case 'route':
      return `route ${w.dst.toString()}${w.gateway ? ` via ${w.gateway.toString()}` : ''} dev ${w.dev}${w.onlink ? ' onlink' : ''}`;
    case 'neigh':
      return `neigh ${w.ip.toString()} lladdr ${w.mac} dev ${w.dev}`;
    case 'fdb':
      return `fdb ${w.mac} dst ${w.dst.toString()} dev ${w.dev}`;
    case 'wgpeer':
      return `wireguard peer ${w.publicKey} on ${w.dev} (endpoint ${w.endpoint}, allowed-ips ${w.allowed.join(',')})`;
  }
}

function wantFix(w: Want, psk: boolean): string {
  switch (w.kind) {
    case 'route':
      return `ip route replace ${w.dst.toString()}${w.gateway ? ` via ${w.gateway.toString()}` : ''} dev ${w.dev}${w.onlink ? ' onlink' : ''}`;
    case 'neigh':
      return `ip neigh replace ${w.ip.toString()} lladdr ${w.mac} dev ${w.dev} nud permanent`;
    case 'fdb':
      return `bridge fdb replace ${w.mac} dev ${w.dev} dst ${w.dst.toString()} self permanent`;
    case 'wgpeer':
      return psk ? '' : `wg set ${w.dev} peer ${w.publicKey} endpoint ${w.endpoint} allowed-ips ${w.allowed.join(',')}`;
  }
}

/** undefined when the kernel holds `w` as wanted, else what it holds instead. */
function mismatch(ctx: PlaneContext, w: Want): string | undefined {
  const k = ctx.kernel;
  switch (w.kind) {
    case 'route': {
      const same = mainRoutes(k, w.dst.family).filter((r) => r.dst.equals(w.dst) && r.type === 'unicast');
      const good = same.some((r) => r.linkIndex === w.linkIndex && (w.gateway ? r.gateway?.equals(w.gateway) === true : r.gateway === undefined) && (!w.onlink || r.onlink));
      if (good) return undefined;
      return same.length > 0 ? `wrong route: ${same.map((r) => describeRoute(k, r)).join(', ')}` : 'missing';
    }
    case 'neigh': {
      const n = k.neighbors.find((x) => x.linkIndex === w.linkIndex && x.ip.equals(w.ip));
      if (n?.mac === w.mac && n.state !== 'failed' && n.state !== 'incomplete') return undefined;
      return n?.mac ? `wrong neigh: lladdr ${n.mac} (${n.state})` : 'missing';
    }
    case 'fdb': {
      const e = k.fdb.filter((x) => x.linkIndex === w.linkIndex && x.mac === w.mac);
      if (e.some((x) => x.dst?.equals(w.dst))) return undefined;
      return e.length > 0 ? `wrong fdb: dst ${e.map((x) => x.dst?.toString() ?? 'none').join(', ')}` : 'missing';
    }
    case 'wgpeer': {
      const dev = ctx.wireguard?.find((d) => d.name === w.dev);
      const p = dev?.peers.find((x) => x.publicKey === w.publicKey);
      if (!p) return 'missing';
      const lacking = w.allowed.filter((c) => !p.allowedIps.includes(c.toString()));
      if (lacking.length > 0) return `allowed-ips ${p.allowedIps.join(',') || 'none'} lack ${lacking.join(',')}`;
      if (!p.endpoint) return 'no endpoint';
      return undefined;
    }
  }
}

function peers(f: NodeFacts): CheckResult {
  const id = 'dataplane.peers';
  const ctx = context(id, f, true);
  if ('status' in ctx) return ctx;
  const why = notProgrammable(ctx.view);
  if (why) return skip(id, why);
  const exp = expectedObjects(ctx);
  if (exp.missingDevice && exp.wants.length === 0 && ctx.peers.length > 0) return skip(id, `${exp.missingDevice} does not exist (see dataplane.device)`);
  const psk = ctx.view.wireguard?.psk !== undefined;
  const bad: Array<{ w: Want; how: string }> = [];
  for (const w of exp.wants) {
    const how = mismatch(ctx, w);
    if (how !== undefined) bad.push({ w, how });
  }
  const others = exp.otherType > 0 ? ` (${exp.otherType} peer(s) of another backend type not programmed: see leases.backend-type)` : '';
  const peerCount = ctx.peers.length - exp.otherType;
  if (bad.length === 0 && exp.problems.length === 0) {
    return ok(id, `${peerCount} peer(s), ${exp.wants.length} kernel object(s) as the leases say${others}`);
  }
  const lines = [...exp.problems, ...bad.map(({ w, how }) => `peer ${w.peer}: ${how === 'missing' ? 'missing' : how + ', want'} ${wantText(w)}`)];
  const firstPeer = bad[0]?.w.peer;
  const cmds = bad.filter(({ w }) => w.peer === firstPeer).map(({ w }) => wantFix(w, psk)).filter(Boolean);
  const restart = `${restartFlanneld(f)}: it re-programs every peer from the leases`;
  const fix = cmds.length > 0 ? `${cmds.join(' && ')}${bad.some(({ w }) => w.peer !== firstPeer) ? '   (first peer; the rest likewise)' : ''}\nor ${restart}` : exp.problems.length > 0 && bad.length === 0 ? 'fix the named peer\'s node (its flanneld log says more): same backend and VNI, a reachable PublicIP' : restart;
  return fail(id, listSome(lines), fix);
}

// ---------- dataplane.stale ----------

function presentText(ctx: PlaneContext, p: Present): { text: string; fix: string } {
  const k = ctx.kernel;
  const dev = (i: number): string => k.links.find((l) => l.index === i)?.name ?? `ifindex ${i}`;
  switch (p.kind) {
    case 'route':
      return { text: `route ${describeRoute(k, p.route)}`, fix: `ip route del ${p.route.dst.toString()} dev ${dev(p.route.linkIndex ?? 0)}` };
    case 'neigh':
      return { text: `neigh ${p.neighbor.ip.toString()} lladdr ${p.neighbor.mac ?? '?'} dev ${dev(p.neighbor.linkIndex)}`, fix: `ip neigh del ${p.neighbor.ip.toString()} dev ${dev(p.neighbor.linkIndex)}` };
    case 'fdb':
      return { text: `fdb ${p.fdb.mac} dst ${p.fdb.dst?.toString() ?? '?'} dev ${dev(p.fdb.linkIndex)}`, fix: `bridge fdb del ${p.fdb.mac} dev ${dev(p.fdb.linkIndex)}${p.fdb.dst ? ` dst ${p.fdb.dst.toString()}` : ''} self` };
    case 'wgpeer':
      return { text: `wireguard peer ${p.peer.publicKey} on ${p.dev} (${p.peer.allowedIps.join(',')})`, fix: `wg set ${p.dev} peer ${p.peer.publicKey} remove` };
  }
}

function stale(f: NodeFacts): CheckResult {
  const id = 'dataplane.stale';
  const ctx = context(id, f, true);
  if ('status' in ctx) return ctx;
  const why = notProgrammable(ctx.view);
  if (why) return skip(id, why);
  if (ctx.view.udp) return skip(id, 'udp keeps its peer table inside flanneld: nothing per peer in the kernel');
  const exp = expectedObjects(ctx);
  const wanted = (p: Present): boolean =>
    exp.wants.some((w) => {
      if (p.kind === 'route' && w.kind === 'route') return w.dst.equals(p.route.dst);
      if (p.kind === 'neigh' && w.kind === 'neigh') return w.linkIndex === p.neighbor.linkIndex && w.ip.equals(p.neighbor.ip);
      if (p.kind === 'fdb' && w.kind === 'fdb') return w.linkIndex === p.fdb.linkIndex && w.mac === p.fdb.mac;
      if (p.kind === 'wgpeer' && w.kind === 'wgpeer') return w.dev === p.dev && w.publicKey === p.peer.publicKey;
      return false;
    });
  const extra = ownedObjects(ctx).filter((p) => !wanted(p)).map((p) => presentText(ctx, p));
  if (extra.length === 0) return ok(id, 'no route, neighbour, FDB entry or WireGuard peer without a lease');
  return warn(id, `${extra.length} object(s) for subnets no lease has: ${listSome(extra.map((e) => e.text))}`, `${extra.slice(0, 3).map((e) => e.fix).join(' && ')}${extra.length > 3 ? ' ...' : ''}\nor ${restartFlanneld(f)}: a running flanneld removes them itself`);
}

export const dataplaneChecks: CheckSpec[] = [
  { id: 'dataplane.device', summary: "flannel's device exists as configured: VNI, port, local address and underlay (vxlan), MAC = the lease's VtepMAC, WireGuard key and port, up, address = the subnet's network address", run: device },
  { id: 'dataplane.peers', summary: 'for every peer lease of our backend: its route, neighbour and FDB entry (vxlan), route via PublicIP (host-gw, DirectRouting, ipip), WireGuard peer with endpoint and allowed-ips; the Network route (udp, wireguard)', run: peers },
  { id: 'dataplane.stale', summary: 'no route, neighbour, FDB entry or WireGuard peer for subnets no lease has', run: stale },
];
