/**
 * @module deploy/objects/volumes
 * The pod's volumes: host directories (upstream's volume names) and the ConfigMap.
 */
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { Tpl } from '../template/index.ts';
import { MOUNT } from '../image-layout.ts';
import { v } from '../values.ts';
import { NAMES } from './common.ts';

export const VOLUMES = {
  run: 'run',
  cniBin: 'cni-plugin',
  cniConf: 'cni',
  config: 'flannel-cfg',
  xtablesLock: 'xtables-lock',
} as const;

export function volumes(): Tpl<IVolume>[] {
  return [
    { name: VOLUMES.run, hostPath: { path: MOUNT.run } },
    { name: VOLUMES.cniBin, hostPath: { path: v.ref('flannel.cniBinDir') } },
    { name: VOLUMES.cniConf, hostPath: { path: v.ref('flannel.cniConfDir') } },
    // Shared with kube-proxy and every other iptables user on the node.
    { name: VOLUMES.xtablesLock, hostPath: { path: MOUNT.xtablesLock, type: 'FileOrCreate' } },
    { name: VOLUMES.config, configMap: { name: NAMES.configMap } },
  ];
}
