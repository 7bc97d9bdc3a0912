/**
 * @module deploy/objects/labels
 * The labels of flannel's objects (upstream's), in a module of their own: the chart values use
 * them too (the PodMonitor's default labels), and the objects' modules import the values.
 */
export const SELECTOR_LABELS = { app: 'flannel', 'k8s-app': 'flannel' } as const;
export const LABELS = { ...SELECTOR_LABELS, tier: 'node' } as const;
