/**
 * @module deploy/objects/common
 * Names and labels shared by the objects (upstream's names: kube-flannel, flannel, kube-flannel-cfg).
 */
import { v } from '../values.ts';

export const NAMES = {
  serviceAccount: 'flannel',
  clusterRole: 'flannel',
  clusterRoleBinding: 'flannel',
  configMap: 'kube-flannel-cfg',
  daemonSet: 'kube-flannel-ds',
} as const;

export { LABELS, SELECTOR_LABELS } from './labels.ts';

/** `metadata` of an object in flannel's namespace. */
export function namespaced(name: string, labels?: Readonly<Record<string, string>>) {
  return { name, namespace: v.ref('namespace'), ...(labels ? { labels } : {}) };
}
