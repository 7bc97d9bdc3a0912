/**
 * @module deploy/objects/volumes
 * The pod's volumes: host directories (upstream's volume names) and the ConfigMap.
 */
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { when, type Tpl } from '../template/index.ts';
import { MOUNT } from '../image-layout.ts';
import { v } from '../values.ts';
import { NAMES } from './common.ts';

export const VOLUMES = {
  run: 'run',
  cniBin: 'cni-plugin',
  cniConf: 'cni',
  config: 'flannel-cfg',
  xtablesLock: 'xtables-lock',
  tun: 'dev-net-tun',
} as const;

/**
 * The backends that open /dev/net/tun: udp (flannel0) and wireguard (wireguard-go, when the kernel
 * has no WireGuard). A container has no /dev/net/tun unless it is given one (upstream's udp
 * backend fails with "open /dev/net/tun: no such file or directory" in its own DaemonSet,
 * flannel issue 1267); NET_ADMIN is enough to use it once it is there.
 */
export const needsTun = v.oneOf('flannel.backend', ['udp', 'wireguard']);

export function volumes(): Tpl<IVolume>[] {
  return [
    { name: VOLUMES.run, hostPath: { path: MOUNT.run } },
    { name: VOLUMES.cniBin, hostPath: { path: v.ref('flannel.cniBinDir') } },
    { name: VOLUMES.cniConf, hostPath: { path: v.ref('flannel.cniConfDir') } },
    // Shared with kube-proxy and every other iptables user on the node.
    { name: VOLUMES.xtablesLock, hostPath: { path: MOUNT.xtablesLock, type: 'FileOrCreate' } },
    // CharDevice: the pod does not start on a node without it (rather than the runtime creating a directory there).
    when(needsTun, { name: VOLUMES.tun, hostPath: { path: MOUNT.tun, type: 'CharDevice' } }),
    { name: VOLUMES.config, configMap: { name: NAMES.configMap } },
  ];
}
