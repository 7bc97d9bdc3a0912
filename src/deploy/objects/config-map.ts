/**
 * @module deploy/objects/config-map
 * kube-flannel-cfg: cni-conf.json (installed on each node as 10-flannel.conflist) and
 * net-conf.json (read by flanneld from /etc/kube-flannel/net-conf.json).
 */
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { jsonText, when, type JsonValue, type Tpl } from '../template/index.ts';
import { v } from '../values.ts';
import { LABELS, NAMES, namespaced } from './common.ts';

/** The CNI network configuration list, the same as deploy/cni/10-flannel.conflist. */
export const CNI_CONFLIST = {
  name: 'cbr0',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
} as const;

const vxlan = v.eq('flannel.backend', 'vxlan');

/** net-conf.json from the chart values; keys a value leaves at its zero are left out. */
export function netConf(): Tpl<JsonValue> {
  return {
    Network: when(v.set('podCidr'), v.ref('podCidr')),
    EnableIPv4: when(v.unset('podCidr'), false),
    IPv6Network: when(v.set('podCidrv6'), v.ref('podCidrv6')),
    EnableIPv6: when(v.set('podCidrv6'), true),
    EnableNFTables: v.ref('flannel.enableNFTables'),
    Backend: {
      Port: when([vxlan, v.set('flannel.backendPort')], v.ref('flannel.backendPort')),
      VNI: when([vxlan, v.set('flannel.vni')], v.ref('flannel.vni')),
      GBP: when([vxlan, v.set('flannel.GBP')], v.ref('flannel.GBP')),
      DirectRouting: when([vxlan, v.set('flannel.directRouting')], v.ref('flannel.directRouting')),
      MTU: when([vxlan, v.set('flannel.mtu')], v.ref('flannel.mtu')),
      // Last and unconditional: every entry before it can end with a comma.
      Type: v.ref('flannel.backend'),
    },
  };
}

export function configMap(): Tpl<IConfigMap> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: namespaced(NAMES.configMap, LABELS),
    data: {
      'cni-conf.json': jsonText(CNI_CONFLIST),
      'net-conf.json': jsonText(netConf()),
    },
  };
}
