/**
 * @module deploy/values
 * The chart values: their type, their defaults (which are also what the plain manifest is
 * built with) and the comments written above them in values.yaml. Names follow upstream's
 * chart (flannel-io/flannel chart/kube-flannel/values.yaml) wherever upstream has the knob.
 */
import type { ILocalObjectReference } from 'kubernetes-models/v1/LocalObjectReference';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import { LABELS } from './objects/labels.ts';
import { lookup, templateKit, type Paths } from './template/index.ts';

export interface ChartValues {
  global: {
    imagePullSecrets: ILocalObjectReference[];
  };
  /** Not upstream's `.Release.Namespace`: the chart creates this namespace itself (see README). */
  namespace: string;
  createNamespace: boolean;
  podCidr: string;
  podCidrv6: string;
  flannel: {
    image: { repository: string; tag: string };
    cniBinDir: string;
    cniConfDir: string;
    skipCNIConfigInstallation: boolean;
    cniPluginsFromImage: string;
    args: string[];
    extraArgs: string[];
    enableNFTables: boolean;
    backend: string;
    backendPort: number;
    mtu: number;
    directRouting: boolean;
    vni: number;
    GBP: boolean;
    macPrefix: string;
    backendPortv6: number;
    psk: string;
    tunnelMode: string;
    keepaliveInterval: number;
    /** Not in upstream's chart, which cannot configure the extension backend. */
    extension: {
      preStartupCommand: string;
      postStartupCommand: string;
      subnetAddCommand: string;
      subnetRemoveCommand: string;
    };
    healthz: { port: number };
    resources: IResourceRequirements;
    tolerations: IToleration[];
    nodeSelector: Record<string, string>;
  };
  /** Not in upstream's chart (upstream flanneld has no metrics). */
  metrics: {
    enabled: boolean;
    podMonitor: { enabled: boolean; interval: string; labels: Record<string, string> };
  };
}

export type ValuePath = Paths<ChartValues>;

/** Template constructors whose paths the compiler checks against `ChartValues`. */
export const v = templateKit<ChartValues>();

/** The image repository the Dockerfile's image is tagged with (see deploy/README.md). */
export const DEFAULT_IMAGE_REPOSITORY = 'flannel-ts';

/**
 * The health server port. Not 10256: that is kube-proxy's healthz port, bound on every node of
 * a kubeadm cluster, and flanneld shares the host network. 8081 is upstream's chart default.
 */
export const DEFAULT_HEALTHZ_PORT = 8081;

export function defaultValues(version: string): ChartValues {
  return {
    global: { imagePullSecrets: [] },
    namespace: 'kube-flannel',
    createNamespace: true,
    podCidr: '10.244.0.0/16',
    podCidrv6: '',
    flannel: {
      image: { repository: DEFAULT_IMAGE_REPOSITORY, tag: version },
      cniBinDir: '/opt/cni/bin',
      cniConfDir: '/etc/cni/net.d',
      skipCNIConfigInstallation: false,
      cniPluginsFromImage: 'bridge host-local portmap loopback',
      args: ['--ip-masq', '--kube-subnet-mgr'],
      extraArgs: [],
      enableNFTables: false,
      backend: 'vxlan',
      backendPort: 0,
      mtu: 0,
      directRouting: false,
      vni: 0,
      GBP: false,
      macPrefix: '',
      backendPortv6: 0,
      psk: '',
      tunnelMode: '',
      keepaliveInterval: 0,
      extension: { preStartupCommand: '', postStartupCommand: '', subnetAddCommand: '', subnetRemoveCommand: '' },
      healthz: { port: DEFAULT_HEALTHZ_PORT },
      resources: { requests: { cpu: '100m', memory: '50Mi' } },
      tolerations: [{ operator: 'Exists' }],
      nodeSelector: {},
    },
    metrics: {
      enabled: true,
      podMonitor: { enabled: false, interval: '30s', labels: { ...LABELS } },
    },
  };
}

/** Comments above each key in values.yaml. */
export const VALUE_HELP: Partial<Record<ValuePath, readonly string[]>> = {
  global: ['Settings shared with parent charts.'],
  'global.imagePullSecrets': ['Secrets for pulling the image from a private registry, e.g. [{name: regcred}].'],
  namespace: [
    'Namespace for flannel\'s objects. The chart creates it (labelled for privileged pods), so install',
    'the release anywhere, e.g. `helm install flannel deploy/chart/kube-flannel` (see deploy/README.md).',
  ],
  createNamespace: ['false: the namespace exists already (it must allow privileged pods: hostNetwork, hostPath).'],
  podCidr: [
    'The IPv4 pod network (net-conf.json "Network"); must match kubeadm\'s --pod-network-cidr.',
    'Empty: no IPv4 ("EnableIPv4": false).',
  ],
  podCidrv6: ['The IPv6 pod network (net-conf.json "IPv6Network", "EnableIPv6": true); empty: IPv4 only.'],
  flannel: ['flanneld and its CNI plugin.'],
  'flannel.image': [
    'One image holds flanneld and the flannel CNI plugin (upstream ships two; there is no imageCNI here).',
    'Build it from the Dockerfile at the repository root and push it where your nodes can pull it.',
  ],
  'flannel.image.repository': ['e.g. registry.example.com/flannel-ts'],
  'flannel.image.tag': ['Defaults to the flannel-ts version.'],
  'flannel.cniBinDir': ['Host directory of CNI plugins: the flannel plugin is installed here.'],
  'flannel.cniConfDir': ['Host directory of CNI configurations: 10-flannel.conflist is written here.'],
  'flannel.skipCNIConfigInstallation': ['true: do not write 10-flannel.conflist (you provide the CNI configuration).'],
  'flannel.cniPluginsFromImage': [
    'Reference CNI plugins (space-separated) copied from the image into cniBinDir when the node has',
    'none of that name: flannel delegates to bridge and host-local, the conflist chains portmap.',
    'Upstream\'s manifest leaves them to the node (flannel issues 1847, 2301). Empty: copy none.',
  ],
  'flannel.args': ['flanneld\'s flags (see `flanneld --help`); the healthz flags and extraArgs follow them.'],
  'flannel.extraArgs': ['More flanneld flags, appended after args, e.g. ["--iface=eth1"].'],
  'flannel.enableNFTables': ['Masquerade and forward rules with nftables instead of iptables.'],
  'flannel.backend': [
    'Backend type: vxlan, host-gw, wireguard, udp, ipip or extension (deploy/README.md, "Backends and',
    'firewalls", says which port each needs open). Do not change it on a running cluster.',
    'wireguard uses the kernel\'s WireGuard, else the image\'s wireguard-go (nodes without the module);',
    'udp and ipip carry IPv4 only (leave podCidrv6 empty); ipip needs the node\'s ipip module.',
    'Each value below says which backends read it; the others leave it out of net-conf.json.',
  ],
  'flannel.backendPort': [
    'UDP port; 0: the backend\'s default. vxlan: Port (8472), wireguard: ListenPort (51820),',
    'udp: Port (8285).',
  ],
  'flannel.mtu': [
    'vxlan, wireguard: the underlay MTU to use instead of the external interface\'s (MTU); 0: the',
    'interface\'s. The backend takes its overhead off it (vxlan 50, wireguard 80).',
  ],
  'flannel.directRouting': ['vxlan, ipip: route directly (no encapsulation) to nodes on the same L2 subnet (DirectRouting).'],
  'flannel.vni': ['vxlan identifier (VNI); 0: the default, 1.'],
  'flannel.GBP': ['vxlan Group Based Policy (GBP).'],
  'flannel.macPrefix': ['vxlan MacPrefix: upstream uses it on Windows only; flannel-ts (Linux) ignores it with a warning.'],
  'flannel.backendPortv6': ['wireguard: UDP port of the IPv6 device (ListenPortV6); 0: the default, 51821.'],
  'flannel.psk': [
    'wireguard: a pre-shared key for every peer (PSK), as `wg genpsk` prints it; empty: none.',
    'It is stored in the ConfigMap, readable by whoever may read ConfigMaps in the namespace.',
  ],
  'flannel.tunnelMode': [
    'wireguard Mode: separate (flannel-wg and flannel-wg-v6), auto (one device, IPv6 to peers that',
    'have it), ipv4 or ipv6 (one device, peers over that family); empty: the default, separate.',
  ],
  'flannel.keepaliveInterval': ['wireguard: seconds between keepalives to each peer (PersistentKeepaliveInterval); 0: none.'],
  'flannel.extension': [
    'extension: the commands (run with sh -c inside the flanneld container, so with the image\'s',
    'tools) that make peers reachable; empty: not run. Not in upstream\'s chart.',
  ],
  'flannel.extension.preStartupCommand': ['Before the lease is taken; its output becomes the lease\'s BackendData (PreStartupCommand).'],
  'flannel.extension.postStartupCommand': ['Once the lease is held; env SUBNET, PUBLIC_IP (PostStartupCommand).'],
  'flannel.extension.subnetAddCommand': ['For each peer that appears; env SUBNET, PUBLIC_IP, stdin its BackendData (SubnetAddCommand).'],
  'flannel.extension.subnetRemoveCommand': ['For each peer that goes away; as subnetAddCommand (SubnetRemoveCommand).'],
  'flannel.healthz': ['flanneld\'s health server (/healthz liveness, /readyz readiness, /metrics) on every address of the node.'],
  'flannel.healthz.port': ['0 disables the server, the probes and the metrics. Not 10256: kube-proxy listens there.'],
  'flannel.resources': ['Resources of the flanneld container.'],
  'flannel.tolerations': ['The default tolerates every taint: the pod network must run on every node.'],
  'flannel.nodeSelector': ['Extra node labels to select nodes by (Linux nodes only in any case).'],
  metrics: [
    'Prometheus metrics: flanneld serves /metrics on the health server (<node IP>:<flannel.healthz.port>).',
    'deploy/grafana/flannel-ts-dashboard.json is a Grafana dashboard over them. Not in upstream\'s chart.',
  ],
  'metrics.enabled': ['Pod annotations prometheus.io/scrape, /port and /path, for annotation-driven scrape configs.'],
  'metrics.podMonitor': ['A PodMonitor (monitoring.coreos.com/v1) for the Prometheus Operator.'],
  'metrics.podMonitor.enabled': ['true only where the operator\'s CRDs are installed (kubectl get crd podmonitors.monitoring.coreos.com).'],
  'metrics.podMonitor.interval': ['Scrape interval; empty: Prometheus\' own.'],
  'metrics.podMonitor.labels': [
    'The PodMonitor\'s labels, which the operator\'s podMonitorSelector matches; add yours, e.g.',
    '{release: kube-prometheus-stack} (the stack\'s default selector), with --set or -f.',
  ],
};

/** Whether the default of a value is a list or map (written with toYaml) rather than a scalar. */
export function isStructuredValue(defaults: ChartValues, path: string): boolean {
  const value = lookup(defaults, path);
  return typeof value === 'object' && value !== null;
}
