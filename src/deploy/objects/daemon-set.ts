/**
 * @module deploy/objects/daemon-set
 * kube-flannel-ds: one flanneld per Linux node, on the host network, scheduled ahead of
 * ordinary pods (system-node-critical) and onto every node whatever its taints.
 */
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import { when, type Tpl } from '../template/index.ts';
import { v } from '../values.ts';
import { LABELS, NAMES, SELECTOR_LABELS, namespaced } from './common.ts';
import { flanneld, installCni, installCniPlugin } from './containers.ts';
import { scrapeAnnotations } from './pod-monitor.ts';
import { volumes } from './volumes.ts';

const linuxOnly: Tpl<IAffinity> = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }],
    },
  },
};

export function daemonSet(): Tpl<IDaemonSet> {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: namespaced(NAMES.daemonSet, LABELS),
    spec: {
      selector: { matchLabels: SELECTOR_LABELS },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: LABELS, annotations: scrapeAnnotations },
        spec: {
          affinity: linuxOnly,
          nodeSelector: when(v.set('flannel.nodeSelector'), v.ref('flannel.nodeSelector')),
          hostNetwork: true,
          priorityClassName: 'system-node-critical',
          tolerations: when(v.set('flannel.tolerations'), v.ref('flannel.tolerations')),
          serviceAccountName: NAMES.serviceAccount,
          imagePullSecrets: when(v.set('global.imagePullSecrets'), v.ref('global.imagePullSecrets')),
          initContainers: [installCniPlugin(), when(v.unset('flannel.skipCNIConfigInstallation'), installCni())],
          containers: [flanneld()],
          volumes: volumes(),
        },
      },
    },
  };
}
