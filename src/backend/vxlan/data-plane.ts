/**
 * @module backend/vxlan/data-plane
 * What vxlan programs per peer, what it owns in the kernel, and which notifications mean drift.
 * Per peer: `neigh <subnet addr> lladdr <VtepMAC> permanent`, `fdb <VtepMAC> dst <PublicIP> self
 * permanent` and `route <subnet> via <subnet addr> onlink` on flannel.<VNI>; with DirectRouting a
 * peer on our L2 segment gets `route <subnet> via <PublicIP> dev <ext>` instead.
 */
import type { NetworkConfig } from '../../config/index.ts';
import type { Cidr, Family, IPAddress } from '../../ip/index.ts';
import type { Addresses, Fdb, KernelEvent, Links, Neighbors, Routes } from '../../kernel/index.ts';
import type { Lease } from '../../lease/index.ts';
import type { Logger } from '../../log/index.ts';
import type { ExternalInterface } from '../backend.ts';
import type { Desired, Present } from '../kernel-objects.ts';
import { isOnLink, onLinkPrefixes } from '../on-link.ts';
import type { DataPlane, PeerPlan } from '../peer-reconciler.ts';
import { decodeVxlanData } from './backend-data.ts';
import type { VxlanConfig } from './config.ts';
import { ensureVxlanDevice } from './device.ts';
import { configureVtep, type Vtep } from './vtep.ts';

const RTPROT_KERNEL = 2;
const ZERO_MAC = '00:00:00:00:00:00';

export interface VxlanPlaneOptions {
  readonly kernel: Links & Addresses & Routes & Neighbors & Fdb;
  readonly log: Logger;
  readonly ext: ExternalInterface;
  readonly cfg: VxlanConfig;
  readonly config: NetworkConfig;
  readonly lease: Lease;
  readonly vteps: readonly Vtep[];
  /** Per-device settings to apply after a (re-)creation, e.g. disabling TX checksum offload. */
  readonly onCreated?: (device: string) => Promise<void>;
}

export class VxlanDataPlane implements DataPlane {
  readonly eventGroups = ['link', 'addr', 'route', 'neigh', 'fdb'] as const;
  readonly #o: VxlanPlaneOptions;
  readonly #onLink = new Map<Family, Cidr[]>();
  #extUp: boolean | undefined;

  constructor(options: VxlanPlaneOptions) {
    this.#o = options;
  }

  /** Returns what plan() depends on besides the lease: the VTEPs' ifindexes and, with DirectRouting, the on-link prefixes. */
  async prepare(): Promise<string> {
    const { kernel, log, ext, cfg } = this.#o;
    for (const vtep of this.#o.vteps) {
      const { link, created } = await ensureVxlanDevice(kernel, vtep.spec, log, vtep.mac);
      vtep.index = link.index;
      if (created) await this.#o.onCreated?.(vtep.spec.name);
      await configureVtep(kernel, vtep, link, log);
    }
    if (cfg.directRouting) {
      for (const vtep of this.#o.vteps) this.#onLink.set(vtep.spec.family, await onLinkPrefixes(kernel, ext.index, vtep.spec.family));
    }
    this.#extUp = (await kernel.getLinkByIndex(ext.index))?.up;
    return [...this.#o.vteps.map((v) => `${v.spec.family}:${v.index}`), ...[...this.#onLink].map(([f, prefixes]) => `${f}:${prefixes.join(',')}`)].join(' ');
  }

  plan(lease: Lease): PeerPlan {
    if (lease.attrs.backendType !== 'vxlan') {
      return { objects: [], problems: [`uses backend "${lease.attrs.backendType}", not vxlan: not programmed (all nodes must use one backend type)`] };
    }
    const objects: Desired[] = [];
    const problems: string[] = [];
    for (const vtep of this.#o.vteps) {
      const family = vtep.spec.family;
      const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
      const publicIP = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
      const data = decodeVxlanData(family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data);
      const field = family === 4 ? 'BackendData' : 'BackendV6Data';
      if (!subnet) problems.push(`has no IPv${family} subnet: IPv${family} traffic to it is not routed`);
      else if (!publicIP) problems.push(`has no ${family === 4 ? 'PublicIP' : 'PublicIPv6'}: IPv${family} traffic to it is not routed`);
      else if (this.#o.cfg.directRouting && isOnLink(this.#onLink.get(family) ?? [], publicIP)) {
        objects.push(this.#directRoute(subnet, publicIP));
      } else if ('problem' in data) problems.push(`has unusable ${field} (${data.problem}): IPv${family} traffic to it is not routed`);
      else {
        if (data.vni !== this.#o.cfg.vni) problems.push(`has VNI ${data.vni}, ours is ${this.#o.cfg.vni}: VXLAN packets between us will be dropped`);
        objects.push(
          { kind: 'neigh', neighbor: { linkIndex: vtep.index, ip: subnet.ip, mac: data.vtepMac } },
          { kind: 'fdb', fdb: { linkIndex: vtep.index, mac: data.vtepMac, dst: publicIP } },
          { kind: 'route', route: { dst: subnet, gateway: subnet.ip, linkIndex: vtep.index, onlink: true } },
        );
      }
    }
    return { objects, problems };
  }

  #directRoute(subnet: Cidr, publicIP: IPAddress): Desired {
    return { kind: 'route', route: { dst: subnet, gateway: publicIP, linkIndex: this.#o.ext.index } };
  }

  async listPresent(visit: (p: Present) => void): Promise<void> {
    const { kernel, ext, config, lease } = this.#o;
    for (const vtep of this.#o.vteps) {
      const family = vtep.spec.family;
      const network = family === 4 ? config.v4?.network : config.v6?.network;
      const own = family === 4 ? lease.subnet : lease.ipv6Subnet;
      await kernel.scanRoutes(family, (route) => {
        if (route.protocol === RTPROT_KERNEL || route.type !== 'unicast') return;
        // Everything on the VTEP is ours; via the external interface only gateway routes into the
        // cluster network (DirectRouting peers, or leftovers of an earlier host-gw run).
        const onVtep = route.linkIndex === vtep.index;
        const direct = route.linkIndex === ext.index && route.gateway !== undefined && network?.containsCidr(route.dst) === true && !(own && own.overlaps(route.dst));
        if (onVtep || direct) visit({ kind: 'route', route });
      });
      await kernel.scanNeighbors(vtep.index, family, (neighbor) => {
        if (neighbor.state === 'permanent') visit({ kind: 'neigh', neighbor });
      });
      await kernel.scanFdb(vtep.index, (fdb) => {
        if (fdb.dst && fdb.mac !== ZERO_MAC) visit({ kind: 'fdb', fdb });
      });
    }
  }

  needsReconcile(ev: KernelEvent): boolean {
    const { ext, cfg } = this.#o;
    if (ev.type === 'link') {
      const l = ev.link;
      if (l.index === ext.index) {
        const changed = this.#extUp !== undefined && l.up !== this.#extUp;
        this.#extUp = ev.action === 'del' ? false : l.up;
        return changed;
      }
      return this.#o.vteps.some((v) => {
        if (l.index === v.index) return ev.action === 'del' || !l.up || l.mac !== v.mac || l.mtu !== v.spec.mtu;
        return l.name === v.spec.name; // re-created behind our back: our ifindex is stale
      });
    }
    if (ev.type === 'addr') {
      if (ev.addr.linkIndex === ext.index) return cfg.directRouting;
      return this.#o.vteps.some((v) => ev.addr.linkIndex === v.index && !(ev.action === 'new' && v.address?.ip.equals(ev.addr.ip) && v.address.prefix === ev.addr.prefix));
    }
    return false;
  }

  linkName(index: number): string {
    if (index === this.#o.ext.index) return this.#o.ext.name;
    return this.#o.vteps.find((v) => v.index === index)?.spec.name ?? `ifindex ${index}`;
  }
}
