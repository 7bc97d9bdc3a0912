export { KubeSubnetManager } from './manager.ts';
export { ClientNodeApi } from './client-node-api.ts';
export { loadKubeConfig, SERVICE_ACCOUNT_DIR, type KubeConnectionOptions } from './kubeconfig.ts';
export { annotationNames, DEFAULT_ANNOTATION_PREFIX, type AnnotationNames } from './annotations.ts';
export { DEFAULT_EVENT_QUEUE_DEPTH, DEFAULT_NET_CONFIG_PATH, DEFAULT_TIMINGS, type KubeSubnetManagerOptions, type KubeTimings } from './options.ts';
export type { KubeApi, NodeCondition, NodeView, NodeWatchEvent } from './api.ts';
export { E_KUBE_AUTH, E_KUBE_FORBIDDEN, E_KUBE_GONE, E_KUBE_NOT_FOUND, E_KUBE_REQUEST, E_KUBE_RESPONSE, E_KUBE_UNAVAILABLE, E_KUBE_WATCH } from './errors.ts';
