/**
 * @module deploy/objects/config-map
 * kube-flannel-cfg: cni-conf.json (installed on each node as 10-flannel.conflist) and
 * net-conf.json (read by flanneld from /etc/kube-flannel/net-conf.json).
 */
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { jsonText, when, type At, type Cond, type JsonValue, type Tpl, type When } from '../template/index.ts';
import { v, type ChartValues, type ValuePath } from '../values.ts';
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

const BACKEND = 'flannel.backend';
const only = (type: string) => v.eq(BACKEND, type);

/** Chart values that are a string, a number or a boolean: what a Backend key can take. */
type ScalarPath = { [P in ValuePath]: At<ChartValues, P> extends string | number | boolean ? P : never }[ValuePath];

/** A key of the Backend section from a chart value: present when the backend reads it and the value is set. */
function key(backends: Cond, path: ScalarPath): When<JsonValue> {
  return when([backends, v.set(path)], v.ref(path));
}

/**
 * net-conf.json from the chart values. Keys a value leaves at its zero are left out, and so is
 * every key the chosen backend does not read (its parser would warn about it). Upstream's chart
 * maps the same values to the same keys (chart/kube-flannel/templates/config.yaml, v0.27).
 */
export function netConf(): Tpl<JsonValue> {
  const ext = (name: keyof ChartValues['flannel']['extension']) => key(only('extension'), `flannel.extension.${name}`);
  return {
    Network: when(v.set('podCidr'), v.ref('podCidr')),
    EnableIPv4: when(v.unset('podCidr'), false),
    IPv6Network: when(v.set('podCidrv6'), v.ref('podCidrv6')),
    EnableIPv6: when(v.set('podCidrv6'), true),
    EnableNFTables: v.ref('flannel.enableNFTables'),
    Backend: {
      // One backend's keys in a row share their `if` in the chart.
      Port: key(v.oneOf(BACKEND, ['vxlan', 'udp']), 'flannel.backendPort'),
      VNI: key(only('vxlan'), 'flannel.vni'),
      GBP: key(only('vxlan'), 'flannel.GBP'),
      DirectRouting: key(v.oneOf(BACKEND, ['vxlan', 'ipip']), 'flannel.directRouting'),
      MTU: key(v.oneOf(BACKEND, ['vxlan', 'wireguard']), 'flannel.mtu'),
      MacPrefix: key(only('vxlan'), 'flannel.macPrefix'),
      ListenPort: key(only('wireguard'), 'flannel.backendPort'),
      ListenPortV6: key(only('wireguard'), 'flannel.backendPortv6'),
      PSK: key(only('wireguard'), 'flannel.psk'),
      Mode: key(only('wireguard'), 'flannel.tunnelMode'),
      PersistentKeepaliveInterval: key(only('wireguard'), 'flannel.keepaliveInterval'),
      PreStartupCommand: ext('preStartupCommand'),
      PostStartupCommand: ext('postStartupCommand'),
      SubnetAddCommand: ext('subnetAddCommand'),
      SubnetRemoveCommand: ext('subnetRemoveCommand'),
      // Last and unconditional: every entry before it can end with a comma.
      Type: v.ref(BACKEND),
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
