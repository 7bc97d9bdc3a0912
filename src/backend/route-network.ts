/**
 * @module backend/route-network
 * A network whose data plane is one route per peer and family (host-gw; ipip-like backends
 * later), as upstream's route_network.go: the backend only says what a peer's route is. It owns
 * the gateway routes into the cluster network via its link, so those no peer wants are deleted.
 */
import type { NetworkConfig } from '../config/index.ts';
import type { Cidr, Family, IPAddress } from '../ip/index.ts';
import type { Addresses, KernelEvent, Links, RouteSpec, Routes } from '../kernel/index.ts';
import type { Lease } from '../lease/index.ts';
import type { BackendDeps, ExternalInterface, Network } from './backend.ts';
import type { Present } from './kernel-objects.ts';
import { isOnLink, onLinkPrefixes } from './on-link.ts';
import { PeerReconciler, type DataPlane, type PeerPlan, type ReconcileTuning } from './peer-reconciler.ts';
import { watchPeers } from '../subnet/index.ts';

const RTPROT_KERNEL = 2;

export interface PeerRouteInput {
  readonly family: Family;
  readonly subnet: Cidr;
  readonly publicIP: IPAddress;
  /** True when `ip` is on a subnet directly connected to the external interface. */
  readonly onLink: (ip: IPAddress) => boolean;
  readonly ext: ExternalInterface;
}

export interface RouteNetworkSpec {
  readonly backendType: string;
  /** The peer's route for one family, or a clause completing "peer <subnet> at <ip> ..." saying why there is none. */
  route(peer: PeerRouteInput): RouteSpec | string;
}

export interface RouteNetworkOptions {
  readonly deps: BackendDeps;
  readonly config: NetworkConfig;
  readonly lease: Lease;
  readonly mtu: number;
  readonly spec: RouteNetworkSpec;
  readonly tuning?: ReconcileTuning;
}

export function createRouteNetwork(o: RouteNetworkOptions): Network {
  const { deps, lease } = o;
  const plane = new RouteDataPlane({ kernel: deps.kernel, ext: deps.extIface, config: o.config, lease, spec: o.spec });
  return {
    lease,
    mtu: o.mtu,
    async run(signal) {
      const reconciler = new PeerReconciler(plane, { ...o.tuning, kernel: deps.kernel, log: deps.log });
      await reconciler.run(watchPeers(deps.subnets, lease, signal, deps.log), signal);
    },
  };
}

export interface RoutePlaneOptions {
  readonly kernel: Links & Addresses & Routes;
  readonly ext: ExternalInterface;
  readonly config: NetworkConfig;
  readonly lease: Lease;
  readonly spec: RouteNetworkSpec;
}

export class RouteDataPlane implements DataPlane {
  readonly eventGroups = ['link', 'addr', 'route'] as const;
  readonly #o: RoutePlaneOptions;
  readonly #families: Family[];
  readonly #onLink = new Map<Family, Cidr[]>();
  #extUp: boolean | undefined;

  constructor(options: RoutePlaneOptions) {
    this.#o = options;
    this.#families = [...(options.config.enableIPv4 ? [4 as const] : []), ...(options.config.enableIPv6 ? [6 as const] : [])];
  }

  /** Returns what plan() depends on besides the lease: the on-link prefixes. */
  async prepare(): Promise<string> {
    const { kernel, ext } = this.#o;
    for (const f of this.#families) this.#onLink.set(f, await onLinkPrefixes(kernel, ext.index, f));
    this.#extUp = (await kernel.getLinkByIndex(ext.index))?.up;
    return [...this.#onLink].map(([f, prefixes]) => `${f}:${prefixes.join(',')}`).join(' ');
  }

  plan(lease: Lease): PeerPlan {
    const { spec, ext } = this.#o;
    if (lease.attrs.backendType !== spec.backendType) {
      return { objects: [], problems: [`uses backend "${lease.attrs.backendType}", not ${spec.backendType}: not programmed (all nodes must use one backend type)`] };
    }
    const plan: { objects: PeerPlan['objects'][number][]; problems: string[] } = { objects: [], problems: [] };
    for (const family of this.#families) {
      const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
      const publicIP = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
      if (!subnet) plan.problems.push(`has no IPv${family} subnet: IPv${family} traffic to it is not routed`);
      else if (!publicIP) plan.problems.push(`has no ${family === 4 ? 'PublicIP' : 'PublicIPv6'}: IPv${family} traffic to it is not routed`);
      else {
        const prefixes = this.#onLink.get(family) ?? [];
        const route = spec.route({ family, subnet, publicIP, ext, onLink: (ip) => isOnLink(prefixes, ip) });
        if (typeof route === 'string') plan.problems.push(route);
        else plan.objects.push({ kind: 'route', route });
      }
    }
    return plan;
  }

  async listPresent(visit: (p: Present) => void): Promise<void> {
    const { kernel, ext, config, lease } = this.#o;
    for (const family of this.#families) {
      const network = family === 4 ? config.v4?.network : config.v6?.network;
      const own = family === 4 ? lease.subnet : lease.ipv6Subnet;
      if (!network) continue;
      await kernel.scanRoutes(
        family,
        (route) => {
          if (route.protocol === RTPROT_KERNEL || route.type !== 'unicast' || !route.gateway) return;
          if (!network.containsCidr(route.dst) || (own && own.overlaps(route.dst))) return;
          visit({ kind: 'route', route });
        },
        { linkIndex: ext.index },
      );
    }
  }

  needsReconcile(ev: KernelEvent): boolean {
    const { ext } = this.#o;
    if (ev.type === 'addr') return ev.addr.linkIndex === ext.index;
    if (ev.type !== 'link' || ev.link.index !== ext.index) return false;
    // IPv4 routes through a link that goes down are flushed without a notification.
    const changed = this.#extUp !== undefined && ev.link.up !== this.#extUp;
    this.#extUp = ev.action === 'del' ? false : ev.link.up;
    return changed;
  }

  linkName(index: number): string {
    return index === this.#o.ext.index ? this.#o.ext.name : `ifindex ${index}`;
  }
}
