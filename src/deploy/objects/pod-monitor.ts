/**
 * @module deploy/objects/pod-monitor
 * Scraping flanneld's /metrics. flanneld serves it on its health listener (--healthz-port, bound
 * to 0.0.0.0 on the host network), so a scraper reaches it at <node IP>:<healthz port>. Two ways
 * to tell Prometheus, both behind values: the prometheus.io/* pod annotations that annotation-
 * driven scrape configs read (metrics.enabled, on by default), and a PodMonitor for the Prometheus
 * Operator (metrics.podMonitor.enabled, off by default: the CRD exists only where the operator runs).
 */
import { interp, when, type Cond, type Tpl } from '../template/index.ts';
import { v } from '../values.ts';
import { NAMES, SELECTOR_LABELS } from './common.ts';

export const METRICS = {
  path: '/metrics',
  /** The flanneld container's named port (the health listener), which the PodMonitor scrapes. */
  portName: 'metrics',
} as const;

/** flanneld serves /metrics only while the health listener is on. */
export const healthzOn = v.set('flannel.healthz.port');

/** The pod template's annotations for annotation-driven scraping (kubernetes-pods jobs). */
export const scrapeAnnotations = when<Record<string, string>>([v.set('metrics.enabled'), healthzOn], {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': interp(v.ref('flannel.healthz.port')),
  'prometheus.io/path': METRICS.path,
});

/**
 * The subset of monitoring.coreos.com/v1 PodMonitor the chart writes (the Prometheus Operator's
 * CRD; no Kubernetes type package of this project ships it).
 */
export interface IPodMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PodMonitor';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    selector: { matchLabels: Record<string, string> };
    podMetricsEndpoints: Array<{
      port: string;
      path: string;
      interval?: string;
      relabelings?: Array<{ sourceLabels: string[]; targetLabel: string; action?: string }>;
    }>;
  };
}

export const podMonitorConds: readonly Cond[] = [v.set('metrics.podMonitor.enabled'), healthzOn];

export function podMonitor(): Tpl<IPodMonitor> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: {
      name: NAMES.daemonSet,
      namespace: v.ref('namespace'),
      labels: when(v.set('metrics.podMonitor.labels'), v.ref('metrics.podMonitor.labels')),
    },
    spec: {
      selector: { matchLabels: SELECTOR_LABELS },
      podMetricsEndpoints: [
        {
          port: METRICS.portName,
          path: METRICS.path,
          interval: when(v.set('metrics.podMonitor.interval'), v.ref('metrics.podMonitor.interval')),
          // The node's name as a label: with hostNetwork, instance is only <node IP>:<port>.
          relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node', action: 'replace' }],
        },
      ],
    },
  };
}
