/**
 * @module subnet/kube/kubeconfig
 * Where the API server is and how to authenticate, as upstream's clientcmd.BuildConfigFromFlags:
 *   --kubeconfig-file        that file's current context (cluster, user: token, client cert, ...)
 *   --kube-api-url           overrides the server (alone: that URL, no credentials)
 *   neither                  in-cluster: KUBERNETES_SERVICE_HOST/PORT + the service account token
 * A plain http:// server has no TLS to verify; the client refuses it unless told to skip
 * verification, so that is set for http:// servers only.
 */
import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { KubeConfig, type Cluster } from '@kubernetes/client-node';
import { ConfigError } from '../../errors/index.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConnectionOptions {
  apiUrl?: string | undefined;
  kubeconfigFile?: string | undefined;
  /** For the in-cluster case (KUBERNETES_SERVICE_HOST/PORT). */
  env?: NodeJS.ProcessEnv;
}

const HINT = 'run flanneld in a pod (service account), or pass --kubeconfig-file=<kubeconfig with a server and credentials> and/or --kube-api-url=<https://host:6443>';

function checkUrl(url: string, from: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('E_KUBE_CONFIG', `${from} "${url}" is not a URL`, { hint: 'give the API server as http(s)://host:port, e.g. https://10.0.0.1:6443' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError('E_KUBE_CONFIG', `${from} "${url}" must be an http:// or https:// URL`, { hint: 'e.g. https://10.0.0.1:6443' });
  }
  return url.replace(/\/+$/, '');
}

function withServer(cluster: Cluster, server: string): Cluster {
  return { ...cluster, server, skipTLSVerify: cluster.skipTLSVerify || server.startsWith('http:') };
}

/** Replaces the current context's cluster with `rewrite(cluster)` (CA, name and the rest kept unless rewritten). */
function rewriteCurrentCluster(kc: KubeConfig, rewrite: (c: Cluster) => Cluster): void {
  const current = kc.getCurrentCluster();
  if (!current) return;
  kc.clusters = kc.clusters.map((c) => (c.name === current.name ? rewrite(c) : c));
}

export function loadKubeConfig(o: KubeConnectionOptions): KubeConfig {
  const env = o.env ?? process.env;
  const kc = new KubeConfig();
  const apiUrl = o.apiUrl ? checkUrl(o.apiUrl, '--kube-api-url') : undefined;
  if (o.kubeconfigFile) {
    try {
      kc.loadFromFile(o.kubeconfigFile);
    } catch (err) {
      throw new ConfigError('E_KUBE_CONFIG', `cannot load --kubeconfig-file ${o.kubeconfigFile}: ${(err as Error).message}`, {
        hint: 'check the path and that it is a kubeconfig (YAML with clusters, users, contexts and current-context)',
        cause: err,
      });
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new ConfigError('E_KUBE_CONFIG', `--kubeconfig-file ${o.kubeconfigFile} has no usable current context (current-context "${kc.getCurrentContext() ?? ''}" names no cluster)`, {
        hint: 'set current-context to a context whose cluster exists in the file',
      });
    }
    const server = apiUrl ?? checkUrl(cluster.server, `the server of cluster "${cluster.name}" in ${o.kubeconfigFile}`);
    rewriteCurrentCluster(kc, (c) => withServer(c, server));
    return kc;
  }
  if (apiUrl) {
    kc.loadFromClusterAndUser({ name: 'kube-api-url', server: apiUrl, skipTLSVerify: apiUrl.startsWith('http:') }, { name: 'anonymous' });
    return kc;
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ConfigError('E_KUBE_CONFIG', '--kube-subnet-mgr cannot find the Kubernetes API: not in a pod (KUBERNETES_SERVICE_HOST/PORT are not set) and neither --kubeconfig-file nor --kube-api-url is given', { hint: HINT });
  }
  const tokenFile = `${SERVICE_ACCOUNT_DIR}/token`;
  if (!existsSync(tokenFile)) {
    throw new ConfigError('E_KUBE_CONFIG', `KUBERNETES_SERVICE_HOST is set but there is no service account token at ${tokenFile}`, {
      hint: `mount the service account token (automountServiceAccountToken: true), or ${HINT}`,
    });
  }
  // As client-node's loadFromCluster, but from the environment we were handed; the token file is
  // re-read as it rotates (bound service account tokens).
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  kc.loadFromClusterAndUser(
    { name: 'in-cluster', server, caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`, skipTLSVerify: false },
    { name: 'service-account', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  );
  return kc;
}

/** The API server URL of a loaded config, for messages. */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(no server)';
}
