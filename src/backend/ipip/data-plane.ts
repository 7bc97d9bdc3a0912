/**
 * @module backend/ipip/data-plane
 * What ipip programs per peer and which notifications mean drift. Per peer one route:
 * `<subnet> via <PublicIP> dev flannel.ipip onlink` (the tunnel encapsulates towards the
 * gateway), or with DirectRouting and a peer on our L2 network `<subnet> via <PublicIP> dev
 * <ext>`. The route bookkeeping on the external interface is route-network.ts's (shared with
 * host-gw); this adds the tunnel: it is kept in shape before every full pass, everything routed
 * through it is ours, and its deletion, a down state or a foreign address calls for repair.
 */
import type { AddrSpec, KernelEvent, Links, Addresses, Routes } from '../../kernel/index.ts';
import { replaceAddrs } from '../../kernel/index.ts';
import type { Logger } from '../../log/index.ts';
import type { Present } from '../kernel-objects.ts';
import type { DataPlane, PeerPlan } from '../peer-reconciler.ts';
import { RouteDataPlane, type RoutePlaneOptions, type RouteNetworkSpec } from '../route-network.ts';
import type { Lease } from '../../lease/index.ts';
import { ensureIpipDevice, type IpipDeviceSpec } from './device.ts';

const RTPROT_KERNEL = 2;

/** The tunnel as registration left it: what the data plane keeps it at. */
export interface Tunnel {
  readonly spec: IpipDeviceSpec;
  /** The lease subnet's network address as /32. */
  readonly address: AddrSpec;
  index: number;
}

export interface IpipPlaneOptions extends Omit<RoutePlaneOptions, 'spec' | 'kernel'> {
  readonly kernel: Links & Addresses & Routes;
  readonly log: Logger;
  readonly tunnel: Tunnel;
  readonly directRouting: boolean;
}

/** Gives the tunnel exactly its one address, its MTU, and brings it up (onlink routes through a down device are refused). */
export async function configureTunnel(kernel: Links & Addresses, tunnel: Tunnel, log: Logger): Promise<void> {
  const link = await kernel.getLinkByIndex(tunnel.index);
  if (!link) return; // gone again: the next pass re-creates it
  if (link.mtu !== tunnel.spec.mtu) await kernel.setLinkMtu(link.index, tunnel.spec.mtu);
  const changes = await replaceAddrs(kernel, link.index, 4, [tunnel.address]);
  const text = (a: AddrSpec): string => `${a.ip.toString()}/${a.prefix}`;
  if (changes.removed.length > 0) log.info(`replaced stale address ${changes.removed.map(text).join(', ')} on ${tunnel.spec.name} with ${text(tunnel.address)}`);
  if (!link.up) await kernel.setLinkUp(link.index);
}

export class IpipDataPlane implements DataPlane {
  readonly eventGroups = ['link', 'addr', 'route'] as const;
  readonly #o: IpipPlaneOptions;
  readonly #routes: RouteDataPlane;

  constructor(o: IpipPlaneOptions) {
    this.#o = o;
    const tunnel = o.tunnel;
    const spec: RouteNetworkSpec = {
      backendType: 'ipip',
      route: ({ subnet, publicIP, onLink, ext }) =>
        o.directRouting && onLink(publicIP)
          ? { dst: subnet, gateway: publicIP, linkIndex: ext.index }
          : { dst: subnet, gateway: publicIP, linkIndex: tunnel.index, onlink: true },
    };
    this.#routes = new RouteDataPlane({ kernel: o.kernel, ext: o.ext, config: o.config, lease: o.lease, spec });
  }

  /** Re-creates or repairs the tunnel; the fingerprint covers its ifindex and the on-link prefixes. */
  async prepare(): Promise<string> {
    const { kernel, log, tunnel } = this.#o;
    const { link, created } = await ensureIpipDevice(kernel, tunnel.spec, log);
    if (created) log.warn(`${tunnel.spec.name} was gone or changed (deleted by hand?): re-created it; re-adding every peer's route`);
    tunnel.index = link.index;
    await configureTunnel(kernel, tunnel, log);
    return `${tunnel.index} ${await this.#routes.prepare()}`;
  }

  plan(lease: Lease): PeerPlan {
    return this.#routes.plan(lease);
  }

  async listPresent(visit: (p: Present) => void): Promise<void> {
    await this.#routes.listPresent(visit);
    await this.#o.kernel.scanRoutes(
      4,
      (route) => {
        if (route.protocol !== RTPROT_KERNEL && route.type === 'unicast') visit({ kind: 'route', route });
      },
      { linkIndex: this.#o.tunnel.index },
    );
  }

  needsReconcile(ev: KernelEvent): boolean {
    const { tunnel } = this.#o;
    if (ev.type === 'link' && (ev.link.index === tunnel.index || ev.link.name === tunnel.spec.name)) {
      // Deleted, taken down, or re-created behind our back (our ifindex is stale).
      return ev.action === 'del' || !ev.link.up || ev.link.index !== tunnel.index;
    }
    if (ev.type === 'addr' && ev.addr.linkIndex === tunnel.index) {
      const ours = ev.addr.ip.equals(tunnel.address.ip) && ev.addr.prefix === tunnel.address.prefix;
      return ev.action === 'new' ? !ours : ours;
    }
    return this.#routes.needsReconcile(ev);
  }

  linkName(index: number): string {
    return index === this.#o.tunnel.index ? this.#o.tunnel.spec.name : this.#routes.linkName(index);
  }
}
