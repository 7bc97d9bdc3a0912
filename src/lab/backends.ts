/**
 * @module lab/backends
 * What the lab knows of each backend it can build: the Backend section it writes, the column of
 * the node table that says how peers know the node (VTEP MAC, WireGuard public key), what
 * `lab status` shows per node, and the commands `lab up` suggests. One entry per backend; the
 * lab's commands never test a backend's name themselves.
 */
import { generatePresharedKey } from '../wireguard/keys.ts';
import { kernelHasIpip } from './kernel-features.ts';
import type { Machine } from './netns.ts';

/** A node as the hints see it. */
export interface HintNode {
  readonly name: string;
  readonly underlayIP: string;
  readonly subnet?: string;
}

export interface BackendHint {
  readonly cmd: readonly string[];
  readonly comment: string;
}

export interface LabBackend {
  readonly type: string;
  /** The Backend section of the lab's network configuration. */
  backendSection(o: { readonly directRouting: boolean }): Record<string, unknown>;
  /** Whether --direct-routing means something for it. */
  readonly directRouting: boolean;
  /** The node table's column saying how peers know a node: its title, and the value read on the node ("-" when none). */
  readonly identity: { readonly title: string; read(node: Machine): string };
  /** Completes "<subnet> (node2) ..." after `ip route`: how node1 reaches node2's pods. */
  routeComment(o: { readonly directRouting: boolean; readonly network: string; readonly second: HintNode }): string;
  /** What `lab status` shows per node besides the routes and the rules. */
  readonly statusCommands: ReadonlyArray<readonly string[]>;
  /** Commands to try on node1 besides ip route, the rules and subnet.env. */
  hints(o: { readonly directRouting: boolean; readonly second?: HintNode }): BackendHint[];
  /** Why this machine cannot run the backend (asked before anything is built), or undefined. */
  unavailable?(): string | undefined;
}

function linkAddress(node: Machine, device: string): string {
  try {
    return node.ns.ipJson<Array<{ address?: string }>>(['link', 'show', device])[0]?.address ?? '-';
  } catch {
    return '-';
  }
}

const underlayRoute = ({ second }: { second: HintNode }): string => `via ${second.underlayIP} dev eth0`;

const vxlan: LabBackend = {
  type: 'vxlan',
  backendSection: ({ directRouting }) => ({ Type: 'vxlan', ...(directRouting ? { DirectRouting: true } : {}) }),
  directRouting: true,
  identity: { title: 'VTEP MAC', read: (node) => linkAddress(node, 'flannel.1') },
  routeComment: (o) => (o.directRouting ? `${underlayRoute(o)} (DirectRouting: same underlay segment)` : 'via flannel.1 onlink'),
  statusCommands: [
    ['bridge', 'fdb', 'show', 'dev', 'flannel.1'],
    ['ip', 'neigh', 'show', 'dev', 'flannel.1'],
  ],
  hints: ({ directRouting, second }) =>
    directRouting || !second
      ? []
      : [
          { cmd: ['bridge', 'fdb', 'show', 'dev', 'flannel.1'], comment: `each peer's VTEP MAC -> its underlay IP (${second.underlayIP}, ...)` },
          { cmd: ['ip', 'neigh', 'show', 'dev', 'flannel.1'], comment: "each peer's VTEP address -> its VTEP MAC" },
        ],
};

const hostGw: LabBackend = {
  type: 'host-gw',
  backendSection: () => ({ Type: 'host-gw' }),
  directRouting: false,
  identity: { title: 'TUNNEL', read: () => '-' },
  routeComment: underlayRoute,
  statusCommands: [],
  hints: () => [],
};

/** The public key of the node's flannel-wg, from its UAPI socket (so the node's own /run). */
function wireguardPublicKey(node: Machine): string {
  try {
    return node.exec('wg', ['show', 'flannel-wg', 'public-key']).trim() || '-';
  } catch {
    return '-';
  }
}

const wireguard: LabBackend = {
  type: 'wireguard',
  // As the seeds' example: every peer shares a pre-shared key made with `wg genpsk`.
  backendSection: () => ({ Type: 'wireguard', PSK: generatePresharedKey() }),
  directRouting: false,
  identity: { title: 'WG PUBLIC KEY', read: wireguardPublicKey },
  routeComment: ({ network }) => `inside ${network}, which goes to flannel-wg; WireGuard picks the peer by its AllowedIPs`,
  statusCommands: [['wg', 'show', 'flannel-wg']],
  hints: ({ second }) => [
    {
      cmd: ['wg', 'show', 'flannel-wg'],
      comment: `each peer: public key, endpoint (${second ? `${second.underlayIP}:51820, ...` : 'its underlay IP:51820'}), allowed ips = its pod subnet, latest handshake`,
    },
  ],
};

function linkName(node: Machine, device: string): string {
  try {
    return node.ns.ipJson<Array<{ ifname?: string }>>(['link', 'show', device])[0]?.ifname ?? '-';
  } catch {
    return '-';
  }
}

const udp: LabBackend = {
  type: 'udp',
  backendSection: () => ({ Type: 'udp' }),
  directRouting: false,
  identity: { title: 'TUN', read: (node) => linkName(node, 'flannel0') },
  routeComment: ({ network }) => `inside ${network}, which goes to flannel0: flanneld reads each packet and sends it in a UDP datagram to port 8285 of the node that holds the subnet`,
  statusCommands: [['ip', '-s', 'link', 'show', 'flannel0']],
  hints: () => [
    { cmd: ['ip', '-s', 'link', 'show', 'flannel0'], comment: 'the TUN device flanneld reads and writes pod packets through, with its packet counters' },
    { cmd: ['ss', '-uanp', 'sport = :8285'], comment: "flanneld's UDP socket: every pod packet to another node leaves through it" },
  ],
};

const ipip: LabBackend = {
  type: 'ipip',
  backendSection: ({ directRouting }) => ({ Type: 'ipip', ...(directRouting ? { DirectRouting: true } : {}) }),
  directRouting: true,
  identity: { title: 'TUNNEL', read: (node) => linkName(node, 'flannel.ipip') },
  routeComment: (o) => (o.directRouting ? `${underlayRoute(o)} (DirectRouting: same underlay segment)` : 'via flannel.ipip onlink (IPv4 in IPv4)'),
  statusCommands: [['ip', '-d', 'link', 'show', 'flannel.ipip']],
  hints: () => [{ cmd: ['ip', '-d', 'link', 'show', 'flannel.ipip'], comment: 'the ipip tunnel: local = this node\'s underlay address, no remote' }],
  unavailable: () => {
    const probe = kernelHasIpip();
    return probe.available ? undefined : `this kernel has no ipip module (ip link add ... type ipip says "${probe.detail}"): load it with modprobe ipip where the module exists, or pick another --backend`;
  },
};

/** The extension backend doing host-gw's job in shell, as upstream's documentation shows it. */
const extension: LabBackend = {
  type: 'extension',
  backendSection: () => ({
    Type: 'extension',
    SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP dev eth0',
    SubnetRemoveCommand: 'ip route del $SUBNET via $PUBLIC_IP dev eth0',
  }),
  directRouting: false,
  identity: { title: 'TUNNEL', read: () => '-' },
  routeComment: (o) => `${underlayRoute(o)}, added by the SubnetAddCommand "ip route replace $SUBNET via $PUBLIC_IP dev eth0"`,
  statusCommands: [],
  hints: () => [],
};

export const LAB_BACKENDS: readonly LabBackend[] = [vxlan, hostGw, wireguard, udp, ipip, extension];

export function labBackend(type: string): LabBackend | undefined {
  return LAB_BACKENDS.find((b) => b.type === type);
}
