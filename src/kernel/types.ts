/**
 * @module kernel/types
 * The kernel's objects in our own types: links, addresses, routes, neighbours, FDB entries and
 * the notifications about them. The capabilities that act on them are in kernel.ts.
 */
import type { Cidr, IPAddress } from '../ip/index.ts';

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
  ipip?: IpipInfo;
}

/** A VXLAN device to create (`ip link add <name> type vxlan ...`). */
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

/** A WireGuard device (kernel WireGuard); its keys and peers are set through the Wireguard capability. */
export interface WireguardLinkSpec {
  name: string;
  mtu?: number;
}

/** What an IPv4-in-IPv4 tunnel device reports (`ip -d link show type ipip`); absent fields are 0/any. */
export interface IpipInfo {
  local?: IPAddress;
  remote?: IPAddress;
  /** ifindex of the underlay device the tunnel is bound to. */
  link?: number;
  /** 0: inherit the inner packet's TTL. */
  ttl: number;
  /** Outer packets carry DF (path MTU discovery). */
  pmtudisc: boolean;
}

/**
 * An IPv4-in-IPv4 tunnel (`ip link add <name> type ipip local <local> ttl inherit nopmtudisc`):
 * no remote, so one device reaches every peer through per-route gateways. Created as upstream
 * flannel does (TTL inherit, TOS 0, no path MTU discovery). Needs the kernel's ipip module.
 */
export interface IpipLinkSpec {
  name: string;
  local?: IPAddress;
  mtu?: number;
}

/** What createLink can create, by kind: each backend's device is one member of this union. */
export type LinkSpec = ({ kind: 'vxlan' } & VxlanSpec) | ({ kind: 'wireguard' } & WireguardLinkSpec) | ({ kind: 'ipip' } & IpipLinkSpec);

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
