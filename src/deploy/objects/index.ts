/**
 * @module deploy/objects
 * Every object of the deployment, in apply order, each with the chart template file it goes to
 * and the condition (if any) under which the chart renders it.
 */
import type { Cond, Tpl } from '../template/index.ts';
import { v } from '../values.ts';
import { configMap } from './config-map.ts';
import { daemonSet } from './daemon-set.ts';
import { namespace } from './namespace.ts';
import { podMonitor, podMonitorConds } from './pod-monitor.ts';
import { clusterRole, clusterRoleBinding, serviceAccount } from './rbac.ts';

/** What every object has: kind and apiVersion. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
}

export interface ManifestDoc {
  /** The chart template file (under templates/) holding this object. */
  readonly file: string;
  /** Rendered only when every condition holds (nested `if`s in the chart). */
  readonly cond?: Cond | readonly Cond[];
  readonly object: Tpl<KubeObject>;
}

export function manifestDocs(): readonly ManifestDoc[] {
  return [
    { file: 'namespace.yaml', cond: v.set('createNamespace'), object: namespace() },
    { file: 'serviceaccount.yaml', object: serviceAccount() },
    { file: 'rbac.yaml', object: clusterRole() },
    { file: 'rbac.yaml', object: clusterRoleBinding() },
    { file: 'config.yaml', object: configMap() },
    { file: 'daemonset.yaml', object: daemonSet() },
    { file: 'podmonitor.yaml', cond: podMonitorConds, object: podMonitor() },
  ];
}

export { CNI_CONFLIST, netConf } from './config-map.ts';
export { CLUSTER_ROLE_RULES } from './rbac.ts';
export { installCniPluginScript } from './containers.ts';
export { NAMES, LABELS, SELECTOR_LABELS } from './common.ts';
export { VOLUMES } from './volumes.ts';
export { METRICS } from './pod-monitor.ts';

/** A document's conditions as a list (none, one or several). */
export function docConds(d: ManifestDoc): readonly Cond[] {
  if (d.cond === undefined) return [];
  return Array.isArray(d.cond) ? d.cond : [d.cond as Cond];
}
