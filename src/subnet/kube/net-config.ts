/**
 * @module subnet/kube/net-config
 * In Kubernetes mode the network configuration is a file, --net-config-path: the net-conf.json
 * key of the kube-flannel-cfg ConfigMap, mounted at /etc/kube-flannel/ by the DaemonSet.
 */
import { readFile } from 'node:fs/promises';
import { parseNetworkConfig, type NetworkConfig } from '../../config/index.ts';
import { ConfigError } from '../../errors/index.ts';

export async function readNetConfig(path: string, signal: AbortSignal): Promise<{ config: NetworkConfig; text: string }> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError('E_KUBE_NETCONF', `cannot read the network configuration ${path}: ${why}`, {
      hint: 'in a cluster it is the net-conf.json key of the kube-flannel-cfg ConfigMap, mounted at /etc/kube-flannel/ by the DaemonSet (kubectl -n kube-flannel get configmap kube-flannel-cfg -o yaml); elsewhere write the file or point --net-config-path at it',
      cause: err,
    });
  }
  return { config: parseNetworkConfig(text, { source: path }), text };
}
