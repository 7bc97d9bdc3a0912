/**
 * @module deploy/objects/containers
 * The DaemonSet's containers. Two init containers put the CNI pieces on the node, then flanneld
 * runs with just the capabilities it needs (NET_ADMIN for links, routes and rules, and to open
 * TUN devices; NET_RAW for iptables), not privileged.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import { interp, when, type Tpl } from '../template/index.ts';
import { CONFLIST_NAME, IMAGE, MOUNT } from '../image-layout.ts';
import { v } from '../values.ts';
import { METRICS, healthzOn } from './pod-monitor.ts';
import { VOLUMES, needsTun } from './volumes.ts';

const image = interp(v.ref('flannel.image.repository'), ':', v.ref('flannel.image.tag'));

/**
 * Installs the flannel plugin, and the reference plugins it relies on where the node lacks them
 * (upstream's manifest does not, flannel issues 1847 and 2301). Files are copied under a
 * temporary name and renamed: the runtime may be executing the old binary, and writing over a
 * running executable fails (ETXTBSY).
 */
export function installCniPluginScript(): string {
  const bin = MOUNT.cniBin;
  return [
    'set -eu',
    'install_file() { cp -f "$1" "$2.flannel-tmp" && mv -f "$2.flannel-tmp" "$2"; }',
    `install_file ${IMAGE.cniPlugin} ${bin}/flannel`,
    `echo "installed the flannel CNI plugin in ${bin}"`,
    'for p in $CNI_PLUGINS_FROM_IMAGE; do',
    `  if [ -e "${bin}/$p" ]; then`,
    `    echo "kept the node's own CNI plugin $p"`,
    '  else',
    `    install_file "${IMAGE.referencePluginsDir}/$p" "${bin}/$p"`,
    `    echo "installed the CNI plugin $p from the image"`,
    '  fi',
    'done',
    '',
  ].join('\n');
}

export function installCniPlugin(): Tpl<IContainer> {
  return {
    name: 'install-cni-plugin',
    image,
    command: ['/bin/sh', '-c', installCniPluginScript()],
    env: [{ name: 'CNI_PLUGINS_FROM_IMAGE', value: v.ref('flannel.cniPluginsFromImage') }],
    volumeMounts: [{ name: VOLUMES.cniBin, mountPath: MOUNT.cniBin }],
  };
}

export function installCni(): Tpl<IContainer> {
  return {
    name: 'install-cni',
    image,
    command: ['cp'],
    args: ['-f', `${MOUNT.config}cni-conf.json`, `${MOUNT.cniConf}/${CONFLIST_NAME}`],
    volumeMounts: [
      { name: VOLUMES.cniConf, mountPath: MOUNT.cniConf },
      { name: VOLUMES.config, mountPath: MOUNT.config },
    ],
  };
}

const fieldRef = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
const httpGet = (path: string) => ({ path, port: v.ref('flannel.healthz.port') });

export function flanneld(): Tpl<IContainer> {
  return {
    name: 'kube-flannel',
    image,
    command: [
      IMAGE.flanneld,
      v.splice('flannel.args'),
      when(healthzOn, '--healthz-ip=0.0.0.0'),
      when(healthzOn, interp('--healthz-port=', v.ref('flannel.healthz.port'))),
      v.splice('flannel.extraArgs'),
    ],
    // Named for the PodMonitor; on the host network it is also the hostPort, so the scheduler keeps a second flanneld off the node's port.
    ports: when(healthzOn, [{ name: METRICS.portName, containerPort: v.ref('flannel.healthz.port'), protocol: 'TCP' }]),
    resources: when(v.set('flannel.resources'), v.ref('flannel.resources')),
    securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
    env: [
      { name: 'POD_NAME', ...fieldRef('metadata.name') },
      { name: 'POD_NAMESPACE', ...fieldRef('metadata.namespace') },
      { name: 'NODE_NAME', ...fieldRef('spec.nodeName') },
      { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
    ],
    livenessProbe: when(healthzOn, { httpGet: httpGet('/healthz'), initialDelaySeconds: 10, periodSeconds: 30 }),
    readinessProbe: when(healthzOn, { httpGet: httpGet('/readyz'), initialDelaySeconds: 5, periodSeconds: 10 }),
    volumeMounts: [
      { name: VOLUMES.run, mountPath: MOUNT.run },
      { name: VOLUMES.config, mountPath: MOUNT.config },
      { name: VOLUMES.xtablesLock, mountPath: MOUNT.xtablesLock },
      { name: VOLUMES.cniConf, mountPath: MOUNT.cniConf, readOnly: true },
      { name: VOLUMES.cniBin, mountPath: MOUNT.cniBin, readOnly: true },
      when(needsTun, { name: VOLUMES.tun, mountPath: MOUNT.tun }),
    ],
  };
}
