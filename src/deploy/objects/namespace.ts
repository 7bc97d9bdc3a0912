/**
 * @module deploy/objects/namespace
 * flannel's namespace, labelled so Pod Security admission lets privileged-class pods run
 * (hostNetwork, hostPath and NET_ADMIN are beyond the baseline profile).
 */
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { Tpl } from '../template/index.ts';
import { v } from '../values.ts';

export function namespace(): Tpl<INamespace> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: v.ref('namespace'),
      labels: { 'k8s-app': 'flannel', 'pod-security.kubernetes.io/enforce': 'privileged' },
    },
  };
}
