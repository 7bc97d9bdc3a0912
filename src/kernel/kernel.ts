/**
 * @module kernel/kernel
 * What flannel-ts needs from the Linux network stack, as small capabilities: a backend or a
 * daemon module asks for the ones it uses (`Links & Routes`, say), so a fake for its tests needs
 * only those, and a new kind of device is one more member of `LinkSpec`, not a new method.
 * NetlinkKernel (rtnetlink) implements them all; FakeKernel keeps the same state in memory.
 * Operations derived from these (listRoutes, replaceAddrs, defaultRouteLink...) are free
 * functions in ops.ts.
 *
 * Operations may be issued concurrently: the netlink implementation pipelines them on one socket
 * and the kernel applies them in the order they were issued. Listings run on a separate socket,
 * so a listing issued before an earlier mutation was awaited may not see it. A listing given an
 * AbortSignal stops delivering entries once it aborts and rejects with the signal's reason.
 */
import type { Family, IPAddress } from '../ip/index.ts';
import type {
  Addr,
  AddrSpec,
  EventGroup,
  FdbEntry,
  FdbSpec,
  KernelEvent,
  Link,
  LinkRef,
  LinkSpec,
  Mac,
  Neighbor,
  NeighborSpec,
  Route,
  RouteLookup,
  RouteMatch,
  RouteSpec,
} from './types.ts';

export interface ListOptions {
  readonly signal?: AbortSignal;
}

export interface RouteListOptions extends ListOptions {
  /** Default: the main table. */
  readonly table?: number;
  readonly linkIndex?: number;
}

/** Network devices: looking them up, creating them by kind, and their basic settings. */
export interface Links {
  getLink(name: string): Promise<Link | undefined>;
  getLinkByIndex(index: number): Promise<Link | undefined>;
  listLinks(options?: ListOptions): Promise<Link[]>;
  /** Creates a device of `spec.kind` (down); EEXIST when the name is taken. */
  createLink(spec: LinkSpec): Promise<Link>;
  deleteLink(link: LinkRef): Promise<void>;
  setLinkUp(link: LinkRef): Promise<void>;
  setLinkMtu(link: LinkRef, mtu: number): Promise<void>;
  setLinkMac(link: LinkRef, mac: Mac): Promise<void>;
}

export interface Addresses {
  listAddrs(linkIndex?: number, family?: Family, options?: ListOptions): Promise<Addr[]>;
  /** Fails with EEXIST when the address is already there. */
  addAddr(linkIndex: number, addr: AddrSpec): Promise<void>;
  delAddr(linkIndex: number, addr: AddrSpec): Promise<void>;
}

export interface Routes {
  /** The routes of one table (default main), one at a time as the listing arrives; cached clones excluded. */
  scanRoutes(family: Family, visit: (route: Route) => void, options?: RouteListOptions): Promise<void>;
  replaceRoute(route: RouteSpec): Promise<void>;
  /** Deletes the first route matching every given field; ESRCH when there is none. */
  deleteRoute(route: RouteMatch): Promise<void>;
  /** The answer to `ip route get <ip>`. */
  routeGet(ip: IPAddress): Promise<RouteLookup>;
}

export interface Neighbors {
  /** The neighbour entries of one link and family, one at a time as the listing arrives. */
  scanNeighbors(linkIndex: number, family: Family, visit: (neighbor: Neighbor) => void, options?: ListOptions): Promise<void>;
  replaceNeighbor(neighbor: NeighborSpec): Promise<void>;
  deleteNeighbor(neighbor: { linkIndex: number; ip: IPAddress }): Promise<void>;
}

/** The bridge forwarding database (AF_BRIDGE neighbours), where VXLAN keeps its remote VTEPs. */
export interface Fdb {
  scanFdb(linkIndex: number, visit: (entry: FdbEntry) => void, options?: ListOptions): Promise<void>;
  /** `bridge fdb append <mac> dev <link> dst <dst> self permanent`. */
  appendFdb(entry: FdbSpec): Promise<void>;
  deleteFdb(entry: FdbSpec): Promise<void>;
}

export interface KernelEvents {
  /** Delivers notifications that happen after this returns, until `signal` aborts. */
  subscribe(groups: readonly EventGroup[], signal: AbortSignal, onEvent: (event: KernelEvent) => void): void;
}

/** Every capability, over one connection to the kernel of the current network namespace. */
export interface Kernel extends Links, Addresses, Routes, Neighbors, Fdb, KernelEvents {
  close(): Promise<void>;
}
