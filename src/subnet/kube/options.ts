/**
 * @module subnet/kube/options
 * Options of the Kubernetes subnet manager (upstream's --kube-* flags plus its environment:
 * NODE_NAME or POD_NAME + POD_NAMESPACE, EVENT_QUEUE_DEPTH) and the timing knobs tests shorten.
 */
import { ConfigError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import type { KubeApi } from './api.ts';

export const DEFAULT_EVENT_QUEUE_DEPTH = 5000;
export const DEFAULT_NET_CONFIG_PATH = '/etc/kube-flannel/net-conf.json';

export interface KubeTimings {
  /** How often to look at our node while it has no podCIDR (default 1000 ms). */
  podCidrPollMs: number;
  /** How often a running flanneld re-reads net-conf.json to report a change. */
  netConfigPollMs: number;
  /** How often to repeat the "no podCIDR yet" warning (default 10 s). */
  podCidrWarnMs: number;
  /** Re-list all nodes this often even when the watch is healthy (default 5 min, as upstream). */
  resyncMs: number;
  /** Delays between retries while the API is unreachable (default 250 ms doubling to 10 s). */
  retryInitialMs: number;
  retryMaxMs: number;
}

export const DEFAULT_TIMINGS: KubeTimings = {
  podCidrPollMs: 1000,
  netConfigPollMs: 10_000,
  podCidrWarnMs: 10_000,
  resyncMs: 5 * 60_000,
  retryInitialMs: 250,
  retryMaxMs: 10_000,
};

export interface KubeSubnetManagerOptions {
  /** --kube-api-url: overrides the kubeconfig's server. */
  apiUrl?: string | undefined;
  /** --kubeconfig-file; neither this nor apiUrl: in-cluster config. */
  kubeconfigFile?: string | undefined;
  /** --kube-annotation-prefix (default flannel.alpha.coreos.com). */
  annotationPrefix?: string;
  /** --net-config-path (default /etc/kube-flannel/net-conf.json). */
  netConfigPath?: string;
  /** --set-node-network-unavailable (default true): set NetworkUnavailable=False once up. */
  setNodeNetworkUnavailable?: boolean;
  /** NODE_NAME, POD_NAME, POD_NAMESPACE, EVENT_QUEUE_DEPTH, KUBERNETES_SERVICE_HOST/PORT (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Used as given: pass a component logger, e.g. log.forComponent('subnet:kube'). */
  log?: Logger;
  /** Told when the node watch is connected (a listing succeeded) and when it broke and retries: metrics show it. */
  onWatchState?: (up: boolean) => void;
  /** Deadline of one API request, not the watch (default 30 s). */
  requestTimeoutMs?: number;
  /** Seam: use this API instead of @kubernetes/client-node (connection options are then unused). */
  api?: KubeApi;
  timings?: Partial<KubeTimings>;
  /** Clock seam for condition timestamps. */
  now?: () => number;
}

/** EVENT_QUEUE_DEPTH as upstream reads it: a whole number; 0 or less means the default. */
export function eventQueueDepth(env: NodeJS.ProcessEnv): number {
  const text = env.EVENT_QUEUE_DEPTH;
  if (text === undefined || text.trim() === '') return DEFAULT_EVENT_QUEUE_DEPTH;
  if (!/^-?\d+$/.test(text.trim())) {
    throw new ConfigError('E_KUBE_ENV', `EVENT_QUEUE_DEPTH="${text}" is not a whole number`, { hint: `unset it (default ${DEFAULT_EVENT_QUEUE_DEPTH}) or give a number of events` });
  }
  const n = Number(text.trim());
  return n > 0 ? n : DEFAULT_EVENT_QUEUE_DEPTH;
}

/** Which node we are, from the environment (the pod lookup happens later, against the API). */
export type NodeIdentity = { name: string } | { pod: { namespace: string; name: string } };

export function nodeIdentity(env: NodeJS.ProcessEnv): NodeIdentity {
  const nodeName = env.NODE_NAME?.trim();
  if (nodeName) return { name: nodeName };
  const pod = env.POD_NAME?.trim();
  const namespace = env.POD_NAMESPACE?.trim();
  if (!pod || !namespace) {
    throw new ConfigError('E_KUBE_NODE_NAME', '--kube-subnet-mgr needs to know which node it runs on: NODE_NAME is not set, nor are POD_NAME and POD_NAMESPACE', {
      hint: 'set NODE_NAME to the name of this Node object (kubectl get nodes), or in a DaemonSet pass POD_NAME and POD_NAMESPACE from the downward API (fieldRef metadata.name / metadata.namespace)',
    });
  }
  return { pod: { namespace, name: pod } };
}
