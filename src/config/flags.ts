/**
 * @module config/flags
 * flanneld's command line: upstream's flag names and defaults, each also read from
 * FLANNELD_<NAME> (dashes to underscores, upper case), flags winning over the environment.
 * One table drives parsing, validation and --help.
 */
export type FlagKind = 'string' | 'bool' | 'int' | 'list';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly default?: string | number | boolean | readonly string[];
  readonly help: string;
  /** Not shown in --help (deprecated upstream aliases). */
  readonly hidden?: boolean;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'etcd-endpoints', kind: 'string', default: 'http://127.0.0.1:4001,http://127.0.0.1:2379', help: 'a comma-delimited list of etcd endpoints' },
  { name: 'etcd-prefix', kind: 'string', default: '/coreos.com/network', help: 'etcd prefix' },
  { name: 'etcd-keyfile', kind: 'string', default: '', help: 'SSL key file used to secure etcd communication' },
  { name: 'etcd-certfile', kind: 'string', default: '', help: 'SSL certification file used to secure etcd communication' },
  { name: 'etcd-cafile', kind: 'string', default: '', help: 'SSL Certificate Authority file used to secure etcd communication' },
  { name: 'etcd-username', kind: 'string', default: '', help: 'username for BasicAuth to etcd' },
  { name: 'etcd-password', kind: 'string', default: '', help: 'password for BasicAuth to etcd' },
  { name: 'kube-subnet-mgr', kind: 'bool', default: false, help: 'contact the Kubernetes API for subnet assignment instead of etcd' },
  { name: 'kube-api-url', kind: 'string', default: '', help: 'Kubernetes API server URL; does not need to be specified if flannel is running in a pod' },
  { name: 'kubeconfig-file', kind: 'string', default: '', help: 'kubeconfig file location; does not need to be specified if flannel is running in a pod' },
  { name: 'kube-annotation-prefix', kind: 'string', default: 'flannel.alpha.coreos.com', help: 'Kubernetes annotation prefix; can contain a single slash' },
  { name: 'net-config-path', kind: 'string', default: '/etc/kube-flannel/net-conf.json', help: 'path to the network configuration file (Kubernetes subnet manager)' },
  { name: 'iface', kind: 'list', default: [], help: 'interface to use (IP or name) for inter-host communication; may be repeated, first match wins' },
  { name: 'iface-regex', kind: 'list', default: [], help: 'regex expression to match the first interface to use (IP or name); may be repeated' },
  { name: 'iface-can-reach', kind: 'string', default: '', help: 'detect the interface to use (IP or name) from the route to this destination IP' },
  { name: 'subnet-file', kind: 'string', default: '/run/flannel/subnet.env', help: 'filename where the env variables (subnet, MTU, ...) will be written to' },
  { name: 'public-ip', kind: 'string', default: '', help: 'IPv4 address accessible by other nodes for inter-host communication' },
  { name: 'public-ipv6', kind: 'string', default: '', help: 'IPv6 address accessible by other nodes for inter-host communication' },
  { name: 'subnet-lease-renew-margin', kind: 'int', default: 60, help: 'subnet lease renewal margin, in minutes, ranging from 1 to 1439' },
  { name: 'ip-masq', kind: 'bool', default: false, help: 'setup IP masquerade rule for traffic destined outside of overlay network' },
  { name: 'ip-masq-fully-random-disable', kind: 'bool', default: false, help: 'do not use --random-fully / fully-random in the masquerade rules' },
  { name: 'iptables-resync', kind: 'int', default: 5, help: 'resync period for iptables rules, in seconds' },
  { name: 'iptables-forward-rules', kind: 'bool', default: true, help: 'add default accept rules to the FORWARD chain' },
  { name: 'healthz-ip', kind: 'string', default: '0.0.0.0', help: 'the IP address for the healthz server to listen on' },
  { name: 'healthz-port', kind: 'int', default: 0, help: 'the port for the healthz server to listen on (0 to disable)' },
  { name: 'set-node-network-unavailable', kind: 'bool', default: true, help: 'set the node condition NetworkUnavailable to False once the network is up (Kubernetes subnet manager)' },
  { name: 'vxlan-disable-tx-checksum-offload', kind: 'bool', help: 'turn off TX checksum offload on the VXLAN device, the workaround for "bad udp cksum" and 63 s stalls when the node NATs VXLAN packets (flannel issue 1279); unset: on for kernels older than 5.7, which lack the fix, off on newer ones, where it would cost most of the VXLAN throughput' },
  { name: 'log-format', kind: 'string', default: 'json', help: 'log line format: json or text' },
  { name: 'v', kind: 'int', default: 0, help: 'log level for V logs (0 info, 1-3 debug, 4+ trace)' },
  { name: 'version', kind: 'bool', default: false, help: 'print version and exit' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

export function envName(flag: string): string {
  return `FLANNELD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function formatHelp(program = 'flanneld'): string {
  const lines = [`Usage: ${program} [OPTION]...`, '', 'Every flag can also be set as FLANNELD_<FLAG> in the environment (e.g. FLANNELD_ETCD_ENDPOINTS); flags win.', ''];
  for (const f of FLAGS) {
    if (f.hidden) continue;
    const arg = f.kind === 'bool' ? '' : f.kind === 'int' ? ' int' : ' string';
    const def = f.default === undefined || f.default === '' || (Array.isArray(f.default) && f.default.length === 0) ? '' : ` (default ${JSON.stringify(f.default)})`;
    lines.push(`  --${f.name}${arg}`, `        ${f.help}${def}`);
  }
  return lines.join('\n') + '\n';
}
