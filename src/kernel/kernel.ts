/**
 * @module kernel/kernel
 * What flannel-ts needs from the Linux network stack, in our own types. The real implementation
 * speaks rtnetlink (netlink-kernel.ts); FakeKernel keeps the same state in memory for unit tests.
 *
 * Operations may be issued concurrently: the netlink implementation pipelines them on one socket
 * and the kernel applies them in the order they were issued. Listings run on a separate socket,
 * so a listing issued before an earlier mutation was awaited may not see it.
 */
import type { Cidr, Family, IPAddress } from '../ip/index.ts';

/** An interface by name or by ifindex. */
export type LinkRef = string | number;

/** Lower-case colon-separated hex, e.g. "aa:bb:cc:dd:ee:ff". */
export type Mac = string;

export interface VxlanInfo {
  vni: number;
  local?: IPAddress;
  /** UDP destination port (the kernel's default is 8472). */
  port: number;
  learning: boolean;
  gbp: boolean;
  /** ifindex of the underlay device the tunnel is bound to. */
  link?: number;
}

export interface Link {
  index: number;
  name: string;
  /** The rtnetlink kind ("vxlan", "veth", "bridge"...); absent for plain hardware devices and lo. */
  kind?: string;
  mtu: number;
  /** Empty when the device has no hardware address. */
  mac: Mac;
  /** Administratively up (IFF_UP). */
  up: boolean;
  masterIndex?: number;
  vxlan?: VxlanInfo;
}

export interface VxlanSpec {
  name: string;
  vni: number;
  /** 0 leaves the kernel default (8472). */
  port: number;
  local?: IPAddress;
  linkIndex?: number;
  learning: boolean;
  gbp: boolean;
  mtu?: number;
  mac?: Mac;
}

/** An interface address: a host address with its prefix length (host bits kept). */
export interface AddrSpec {
  ip: IPAddress;
  prefix: number;
}

export interface Addr extends AddrSpec {
  linkIndex: number;
  /** RT_SCOPE_*: 0 universe (global), 253 link, 254 host. */
  scope: number;
}

export type RouteType = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | 'other';

export const MAIN_TABLE = 254;

export interface Route {
  dst: Cidr;
  gateway?: IPAddress;
  /** Absent for multipath and for routes without a device (blackhole...). */
  linkIndex?: number;
  onlink: boolean;
  table: number;
  type: RouteType;
  /** RTPROT_*: 2 kernel, 3 boot (ip route's default), 4 static. */
  protocol: number;
  scope: number;
  src?: IPAddress;
  metric?: number;
}

export interface RouteSpec {
  dst: Cidr;
  gateway?: IPAddress;
  linkIndex: number;
  /** Use the gateway even when no local route reaches it (RTNH_F_ONLINK). */
  onlink?: boolean;
  /** Default: the main table. */
  table?: number;
  src?: IPAddress;
  metric?: number;
}

/** What to delete: the first route matching every given field. */
export interface RouteMatch {
  dst: Cidr;
  table?: number;
  gateway?: IPAddress;
  linkIndex?: number;
  metric?: number;
}

/** The answer to `ip route get <ip>`. */
export interface RouteLookup {
  linkIndex: number;
  src?: IPAddress;
  gateway?: IPAddress;
}

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent' | 'none';

export interface Neighbor {
  linkIndex: number;
  ip: IPAddress;
  mac?: Mac;
  state: NeighborState;
}

export interface NeighborSpec {
  linkIndex: number;
  ip: IPAddress;
  mac: Mac;
  /** Default true (NUD_PERMANENT); false makes a reachable entry the kernel may age out. */
  permanent?: boolean;
}

/** A bridge forwarding entry (AF_BRIDGE neighbour). On a VXLAN device `dst` is the remote VTEP. */
export interface FdbEntry {
  linkIndex: number;
  mac: Mac;
  dst?: IPAddress;
  /** NTF_SELF: the entry belongs to the device itself (vxlan), not to a bridge master. */
  self: boolean;
  permanent: boolean;
  vni?: number;
}

export interface FdbSpec {
  linkIndex: number;
  mac: Mac;
  dst: IPAddress;
}

export type EventGroup = 'link' | 'addr' | 'route' | 'neigh' | 'fdb';
export type EventAction = 'new' | 'del';

/** 'new' also reports changes to an existing object (e.g. a link going down). */
export type KernelEvent =
  | { type: 'link'; action: EventAction; link: Link }
  | { type: 'addr'; action: EventAction; addr: Addr }
  | { type: 'route'; action: EventAction; route: Route }
  | { type: 'neigh'; action: EventAction; neighbor: Neighbor }
  | { type: 'fdb'; action: EventAction; fdb: FdbEntry }
  /** The kernel dropped notifications (receive buffer full): resynchronise from listings. */
  | { type: 'overrun' };

export interface AddrChanges {
  added: AddrSpec[];
  removed: AddrSpec[];
}

export interface Kernel {
  getLink(name: string): Promise<Link | undefined>;
  getLinkByIndex(index: number): Promise<Link | undefined>;
  listLinks(): Promise<Link[]>;
  createVxlan(spec: VxlanSpec): Promise<Link>;
  deleteLink(link: LinkRef): Promise<void>;
  setLinkUp(link: LinkRef): Promise<void>;
  setLinkDown(link: LinkRef): Promise<void>;
  setLinkMtu(link: LinkRef, mtu: number): Promise<void>;
  setLinkMac(link: LinkRef, mac: Mac): Promise<void>;

  listAddrs(linkIndex?: number, family?: Family): Promise<Addr[]>;
  /** Fails with EEXIST when the address is already there. */
  addAddr(linkIndex: number, addr: AddrSpec): Promise<void>;
  delAddr(linkIndex: number, addr: AddrSpec): Promise<void>;
  /** Makes `wanted` the link's only global-scope addresses of `family` (link-local ones are left alone). */
  replaceAddrs(linkIndex: number, family: Family, wanted: readonly AddrSpec[]): Promise<AddrChanges>;

  /** Routes of one table (default main), excluding cached clones. */
  listRoutes(family: Family, options?: { table?: number; linkIndex?: number }): Promise<Route[]>;
  /** listRoutes one route at a time, as the listing arrives: nothing is collected. */
  scanRoutes(family: Family, visit: (route: Route) => void, options?: { table?: number; linkIndex?: number }): Promise<void>;
  replaceRoute(route: RouteSpec): Promise<void>;
  deleteRoute(route: RouteMatch): Promise<void>;
  routeGet(ip: IPAddress): Promise<RouteLookup>;
  /** The device of the main table's default route (lowest metric first), as flannel picks --iface. */
  defaultRouteLink(family: Family): Promise<Link | undefined>;

  listNeighbors(linkIndex: number, family: Family): Promise<Neighbor[]>;
  /** listNeighbors one entry at a time, as the listing arrives. */
  scanNeighbors(linkIndex: number, family: Family, visit: (neighbor: Neighbor) => void): Promise<void>;
  replaceNeighbor(neighbor: NeighborSpec): Promise<void>;
  deleteNeighbor(neighbor: { linkIndex: number; ip: IPAddress }): Promise<void>;

  listFdb(linkIndex: number): Promise<FdbEntry[]>;
  /** listFdb one entry at a time, as the listing arrives. */
  scanFdb(linkIndex: number, visit: (entry: FdbEntry) => void): Promise<void>;
  /** `bridge fdb append <mac> dev <link> dst <dst> self permanent`. */
  appendFdb(entry: FdbSpec): Promise<void>;
  deleteFdb(entry: FdbSpec): Promise<void>;

  /** Delivers notifications that happen after this returns, until `signal` aborts. */
  subscribe(groups: readonly EventGroup[], signal: AbortSignal, onEvent: (event: KernelEvent) => void): void;

  close(): Promise<void>;
}
