/**
 * @module deploy/objects/rbac
 * The service account and what it may do, and no more: read and watch nodes (peers' leases),
 * patch its own node (annotations) and its status (NetworkUnavailable), get pods (to find its
 * node from POD_NAME when NODE_NAME is unset).
 */
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { Tpl } from '../template/index.ts';
import { v } from '../values.ts';
import { NAMES, namespaced } from './common.ts';

export const CLUSTER_ROLE_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] },
  { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
] as const;

export function serviceAccount(): Tpl<IServiceAccount> {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: namespaced(NAMES.serviceAccount) };
}

export function clusterRole(): Tpl<IClusterRole> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: NAMES.clusterRole },
    rules: CLUSTER_ROLE_RULES,
  };
}

export function clusterRoleBinding(): Tpl<IClusterRoleBinding> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: NAMES.clusterRoleBinding },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAMES.clusterRole },
    subjects: [{ kind: 'ServiceAccount', name: NAMES.serviceAccount, namespace: v.ref('namespace') }],
  };
}
