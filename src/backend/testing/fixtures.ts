/**
 * @module backend/testing/fixtures
 * Building blocks for backend unit tests: a FakeKernel with an underlay "eth0", a parsed network
 * config, peer leases, BackendDeps, waiting for the reconciler to settle, the same machine after a
 * restart, and the kernel's (and FakeWireguard's) state as sorted `ip`-style lines.
 */
import { parseNetworkConfig, type NetworkConfig } from '../../config/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import { FakeKernel, type Link } from '../../kernel/index.ts';
import type { FakeWireguard } from '../../kernel/fake-wireguard.ts';
import type { JsonValue, Lease } from '../../lease/index.ts';
import { createMemoryLogger, type MemoryLogger } from '../../log/index.ts';
import type { Backend, BackendDeps, ExternalInterface, Network } from '../backend.ts';
import { describeObject } from '../kernel-objects.ts';
import type { PassSummary } from '../peer-reconciler.ts';
import { MemorySubnets } from './memory-subnets.ts';

const RTPROT_KERNEL = 2;

export const ip = (s: string): IPAddress => IPAddress.parse(s);
export const cidr = (s: string): Cidr => Cidr.parse(s);

export function networkConfig(backend: Record<string, unknown>, extra: Record<string, unknown> = {}): NetworkConfig {
  return parseNetworkConfig(JSON.stringify({ Network: '10.0.0.0/8', Backend: backend, ...extra }));
}

export interface PeerSpec {
  subnet: string;
  publicIP: string;
  backendType?: string;
  backendData?: JsonValue;
  ipv6Subnet?: string;
  publicIPv6?: string;
  backendV6Data?: JsonValue;
}

export function peer(p: PeerSpec): Lease {
  return {
    subnet: cidr(p.subnet),
    ...(p.ipv6Subnet ? { ipv6Subnet: cidr(p.ipv6Subnet) } : {}),
    attrs: {
      publicIP: ip(p.publicIP),
      ...(p.publicIPv6 ? { publicIPv6: ip(p.publicIPv6) } : {}),
      backendType: p.backendType ?? 'vxlan',
      ...(p.backendData !== undefined ? { backendData: p.backendData } : {}),
      ...(p.backendV6Data !== undefined ? { backendV6Data: p.backendV6Data } : {}),
    },
    expiration: new Date(Date.now() + 86_400_000),
  };
}

/** Peer n (0-based): subnet 10.<1 + n/256>.<n%256>.0/24 (inside the default 10.0.0.0/8 network), VNI 1, a MAC derived from n. */
export function vxlanPeer(n: number, publicIP: string): Lease {
  const mac = `0e:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  return peer({ subnet: `10.${1 + (n >> 8)}.${n & 255}.0/24`, publicIP, backendData: { VNI: 1, VtepMAC: mac } });
}

export interface Harness {
  kernel: FakeKernel;
  eth0: Link;
  ext: ExternalInterface;
  subnets: MemorySubnets;
  log: MemoryLogger;
  deps: BackendDeps;
  passes: PassSummary[];
  /** Pass this to the backend factory (as onPass) so the test can wait for reconcile passes. */
  onPass(p: PassSummary): void;
  /** Resolves at the next pass matching `pred` (default: any). */
  nextPass(pred?: (p: PassSummary) => boolean, timeoutMs?: number): Promise<PassSummary>;
  /** Log lines at `level` whose message contains `text`. */
  logged(level: string, text: string): string[];
}

/** A network registered and running on a harness, its first full pass done. */
export interface RunningNetwork {
  h: Harness;
  net: Network;
  stop(): Promise<void>;
}

export async function runNetwork(h: Harness, backend: Backend, config: NetworkConfig): Promise<RunningNetwork> {
  const net = await backend.registerNetwork(config, {}, AbortSignal.timeout(5000));
  const ac = new AbortController();
  const first = h.nextPass((p) => p.kind === 'full');
  const done = net.run(ac.signal);
  await first;
  return {
    h,
    net,
    async stop() {
      ac.abort();
      await done;
    },
  };
}

export interface HarnessOptions {
  config: NetworkConfig;
  subnet?: string;
  ipv6Subnet?: string;
  peers?: Lease[];
  /** Underlay address with prefix (default 192.0.2.1/24). */
  extAddr?: string;
  /** An IPv6 underlay address with prefix, for dual stack. */
  extAddr6?: string;
  extMtu?: number;
  kernel?: FakeKernel;
}

export function harness(o: HarnessOptions): Harness {
  const kernel = o.kernel ?? new FakeKernel();
  const [addrText = '', prefixText = '24'] = (o.extAddr ?? '192.0.2.1/24').split('/');
  const addr = ip(addrText);
  const [addr6Text, prefix6Text = '64'] = o.extAddr6?.split('/') ?? [];
  const addr6 = addr6Text ? ip(addr6Text) : undefined;
  const eth0 = kernel.addLink({
    name: 'eth0',
    mtu: o.extMtu ?? 1500,
    addrs: [{ ip: addr, prefix: Number(prefixText) }, ...(addr6 ? [{ ip: addr6, prefix: Number(prefix6Text) }] : [])],
  });
  const ext: ExternalInterface = { name: 'eth0', index: eth0.index, mtu: eth0.mtu, ifaceAddr: addr, publicIP: addr, ...(addr6 ? { ifaceV6Addr: addr6, publicIPv6: addr6 } : {}) };
  return harnessOn({ kernel, eth0, ext }, o);
}

/** What a restart may change: everything but the machine (FakeKernel, eth0). */
export type RestartOptions = Pick<HarnessOptions, 'config' | 'subnet' | 'ipv6Subnet' | 'peers'>;

/**
 * The same machine after flanneld restarted: the FakeKernel (with whatever the last run left in
 * it), eth0 and the external interface of `h`; a new subnet manager, log and pass list.
 */
export function restartHarness(h: Harness, o: RestartOptions): Harness {
  return harnessOn({ kernel: h.kernel, eth0: h.eth0, ext: h.ext }, o);
}

function harnessOn(machine: Pick<Harness, 'kernel' | 'eth0' | 'ext'>, o: RestartOptions): Harness {
  const { kernel, eth0, ext } = machine;
  const subnets = new MemorySubnets({
    config: o.config,
    ...(o.subnet ? { subnet: cidr(o.subnet) } : {}),
    ...(o.ipv6Subnet ? { ipv6Subnet: cidr(o.ipv6Subnet) } : {}),
    peers: o.peers ?? [],
  });
  const log = createMemoryLogger();
  const passes: PassSummary[] = [];
  let waiters: Array<{ pred: (p: PassSummary) => boolean; resolve: (p: PassSummary) => void }> = [];
  const deps: BackendDeps = {
    subnets,
    kernel,
    extIface: ext,
    log,
  };
  return {
    kernel,
    eth0,
    ext,
    subnets,
    log,
    deps,
    passes,
    onPass(p) {
      passes.push(p);
      const ready = waiters.filter((w) => w.pred(p));
      waiters = waiters.filter((w) => !w.pred(p));
      for (const w of ready) w.resolve(p);
    },
    nextPass(pred = () => true, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching reconcile pass within ${timeoutMs} ms (passes: ${JSON.stringify(passes)})`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (p) => {
            clearTimeout(timer);
            resolve(p);
          },
        });
      });
    },
    logged(level, text) {
      return log.lines.filter((l) => l.level === level && l.msg.includes(text)).map((l) => l.msg);
    },
  };
}

export interface KernelState {
  routes: string[];
  neighs: string[];
  fdb: string[];
}

/** The kernel's routes (main table, non-kernel), permanent neighbours and FDB entries, `ip`-style, sorted. */
export async function kernelState(kernel: FakeKernel, family: 4 | 6 = 4): Promise<KernelState> {
  const links = await kernel.listLinks();
  const name = (i: number): string => links.find((l) => l.index === i)?.name ?? `ifindex ${i}`;
  const routes = (await kernel.listRoutes(family)).filter((r) => r.protocol !== RTPROT_KERNEL).map((route) => describeObject({ kind: 'route', route }, name));
  const neighs: string[] = [];
  const fdb: string[] = [];
  for (const l of links) {
    for (const neighbor of await kernel.listNeighbors(l.index, family)) neighs.push(`${describeObject({ kind: 'neigh', neighbor }, name)} ${neighbor.state}`);
    for (const e of await kernel.listFdb(l.index)) if (e.dst?.family === family) fdb.push(`${describeObject({ kind: 'fdb', fdb: e }, name)}${e.self ? ' self' : ''}${e.permanent ? ' permanent' : ''}`);
  }
  return { routes: routes.sort(), neighs: neighs.sort(), fdb: fdb.sort() };
}

/**
 * Everything a backend may have put into a FakeKernel, one `ip`-style line each, sorted: every
 * link but lo and the underlay (`link <name> <kind> mtu <n> up|down [mac <mac>] [addr <a>/<p>...]`),
 * routes of both families (main table, not the kernel's own connected routes), neighbours and FDB
 * entries on any link. What flannel left behind shows up here, whichever backend left it.
 */
export async function kernelLines(kernel: FakeKernel, underlay: readonly string[] = ['lo', 'eth0']): Promise<string[]> {
  const links = await kernel.listLinks();
  const name = (i: number): string => links.find((l) => l.index === i)?.name ?? `ifindex ${i}`;
  const lines: string[] = [];
  for (const l of links) {
    if (!underlay.includes(l.name)) {
      const addrs = (await kernel.listAddrs(l.index)).map((a) => ` addr ${a.ip.toString()}/${a.prefix}`).sort();
      lines.push(`link ${l.name} ${l.kind ?? 'plain'} mtu ${l.mtu} ${l.up ? 'up' : 'down'}${l.mac ? ` mac ${l.mac}` : ''}${addrs.join('')}`);
    }
    for (const family of [4, 6] as const) {
      for (const neighbor of await kernel.listNeighbors(l.index, family)) lines.push(`${describeObject({ kind: 'neigh', neighbor }, name)} ${neighbor.state}`);
    }
    for (const e of await kernel.listFdb(l.index)) lines.push(`${describeObject({ kind: 'fdb', fdb: e }, name)}${e.self ? ' self' : ''}${e.permanent ? ' permanent' : ''}`);
  }
  for (const family of [4, 6] as const) {
    for (const route of await kernel.listRoutes(family)) if (route.protocol !== RTPROT_KERNEL) lines.push(describeObject({ kind: 'route', route }, name));
  }
  return lines.sort();
}

/**
 * What FakeWireguard holds for every WireGuard link of the kernel, in kernelLines' style:
 * `wireguard <dev> key <public key> port <n>` and per peer
 * `wireguard <dev> peer <key> endpoint <ip>:<port> allowed-ips <cidr>[,<cidr>] keepalive <s> psk <base64>|none`.
 */
export async function wireguardLines(kernel: FakeKernel, wg: FakeWireguard): Promise<string[]> {
  const lines: string[] = [];
  for (const link of await kernel.listLinks()) {
    if (link.kind !== 'wireguard') continue;
    const state = await wg.get(link.name);
    if (!state) continue;
    lines.push(`wireguard ${link.name} key ${state.publicKey ?? 'none'} port ${state.listenPort}`);
    for (const p of state.peers) {
      const endpoint = p.endpoint ? `${p.endpoint.ip.family === 6 ? `[${p.endpoint.ip.toString()}]` : p.endpoint.ip.toString()}:${p.endpoint.port}` : 'none';
      lines.push(`wireguard ${link.name} peer ${p.publicKey} endpoint ${endpoint} allowed-ips ${p.allowedIPs.map(String).join(',')} keepalive ${p.persistentKeepalive} psk ${p.presharedKey ?? 'none'}`);
    }
  }
  return lines.sort();
}
