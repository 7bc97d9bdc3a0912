/**
 * @module subnet/kube/manager
 * SubnetManager over the Kubernetes API (--kube-subnet-mgr), wire-compatible with upstream
 * flanneld in the same cluster: the lease is the node's podCIDR, published as upstream's node
 * annotations; peers are the other nodes carrying them. Leases never expire, so renewal is a
 * no-op; the node condition NetworkUnavailable is cleared once the network is up.
 */
import { readFile } from 'node:fs/promises';
import { sleep } from '../../async/index.ts';
import type { NetworkConfig } from '../../config/index.ts';
import { ConfigError, describeError, isAbortError } from '../../errors/index.ts';
import type { JsonValue, Lease } from '../../lease/index.ts';
import { silentLogger } from '../../log/index.ts';
import type { AcquireOptions, StoredBackendData, SubnetManager, WatchResult } from '../manager.ts';
import { acquireLease, familiesOf, verifyLease } from './acquire.ts';
import { annotationNames, decodeBackendData } from './annotations.ts';
import { ClientNodeApi } from './client-node-api.ts';
import type { KubeContext } from './context.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { readNetConfig } from './net-config.ts';
import { markNetworkReady } from './network-ready.ts';
import type { Families } from './node-lease.ts';
import { DEFAULT_NET_CONFIG_PATH, DEFAULT_TIMINGS, eventQueueDepth, nodeIdentity, type KubeSubnetManagerOptions, type NodeIdentity } from './options.ts';
import { watchLeases } from './watch.ts';

export class KubeSubnetManager implements SubnetManager {
  readonly name = 'kube';
  readonly #ctx: KubeContext;
  readonly #identity: NodeIdentity;
  readonly #netConfigPath: string;
  readonly #setNodeNetworkUnavailable: boolean;
  /** Ends running watches on close(). */
  readonly #closing = new AbortController();
  #nodeName: Promise<string> | undefined;
  #configText: string | undefined;
  #families: Families | undefined;

  constructor(options: KubeSubnetManagerOptions = {}) {
    const env = options.env ?? process.env;
    const log = options.log ?? silentLogger;
    this.#identity = nodeIdentity(env);
    this.#netConfigPath = options.netConfigPath ?? DEFAULT_NET_CONFIG_PATH;
    this.#setNodeNetworkUnavailable = options.setNodeNetworkUnavailable ?? true;
    const api = options.api ?? new ClientNodeApi(loadKubeConfig({ apiUrl: options.apiUrl, kubeconfigFile: options.kubeconfigFile, env }), log, options.requestTimeoutMs);
    this.#ctx = {
      api,
      names: annotationNames(options.annotationPrefix),
      log,
      timings: { ...DEFAULT_TIMINGS, ...options.timings },
      now: options.now ?? Date.now,
      eventQueueDepth: eventQueueDepth(env),
      watchState: options.onWatchState ?? (() => undefined),
      nodeName: (signal) => this.#resolveNodeName(signal),
    };
    log.info(`Kubernetes subnet manager: API ${api.server}, ${'name' in this.#identity ? `node ${this.#identity.name} (NODE_NAME)` : `pod ${this.#identity.pod.namespace}/${this.#identity.pod.name}`}`);
  }

  /** The API server this manager talks to. */
  get server(): string {
    return this.#ctx.api.server;
  }

  #resolveNodeName(signal: AbortSignal): Promise<string> {
    const id = this.#identity;
    if ('name' in id) return Promise.resolve(id.name);
    this.#nodeName ??= (async () => {
      const { namespace, name } = id.pod;
      const nodeName = await this.#ctx.api.getPodNodeName(namespace, name, signal);
      if (!nodeName) {
        throw new ConfigError('E_KUBE_NODE_NAME', `pod ${namespace}/${name} (POD_NAMESPACE/POD_NAME) has no spec.nodeName`, {
          hint: 'POD_NAME and POD_NAMESPACE must name this flanneld pod (downward API fieldRef metadata.name / metadata.namespace), or set NODE_NAME',
        });
      }
      this.#ctx.log.info(`running on node ${nodeName} (from pod ${namespace}/${name})`);
      return nodeName;
    })();
    // A failed lookup (API down) is tried again next time.
    this.#nodeName.catch(() => (this.#nodeName = undefined));
    return this.#nodeName;
  }

  async getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    const { config, text } = await readNetConfig(this.#netConfigPath, signal);
    this.#families = familiesOf(config);
    this.#configText = text;
    return config;
  }

  /** The file is a mounted ConfigMap (updated by a symlink swap, which inotify on the path misses): poll it. */
  async *watchNetworkConfig(signal: AbortSignal): AsyncGenerator<{ text: string | undefined; source: string }> {
    const all = AbortSignal.any([signal, this.#closing.signal]);
    const path = this.#netConfigPath;
    let last = this.#configText;
    while (!all.aborted) {
      await sleep(this.#ctx.timings.netConfigPollMs, all).catch(() => undefined);
      if (all.aborted) return;
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === last) continue;
      last = text;
      yield { text, source: path };
    }
  }

  async acquireLease(options: AcquireOptions): Promise<Lease> {
    this.#families = familiesOf(options.config);
    return await acquireLease(this.#ctx, options);
  }

  /**
   * Node podCIDRs do not expire, so this is only called after someone changed the node: it checks
   * the podCIDR is still ours and re-publishes annotations that were removed.
   */
  async renewLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    const families = this.#families ?? { v4: lease.subnet !== undefined, v6: lease.ipv6Subnet !== undefined };
    return await verifyLease(this.#ctx, lease, families, signal);
  }

  watchLeases(signal: AbortSignal): AsyncIterable<WatchResult> {
    const all = AbortSignal.any([signal, this.#closing.signal]);
    const families = this.#families;
    if (families) return watchLeases(this.#ctx, families, all);
    const readConfig = (): Promise<NetworkConfig> => this.getNetworkConfig(all);
    const ctx = this.#ctx;
    return (async function* () {
      let config: NetworkConfig;
      try {
        config = await readConfig();
      } catch (err) {
        if (all.aborted) return; // a watch ends quietly when its signal aborts, as the etcd one does
        throw err;
      }
      yield* watchLeases(ctx, familiesOf(config), all);
    })();
  }

  /**
   * The backend data this node published before (upstream reuses the VtepMAC in it so peers'
   * neighbour entries stay valid across restarts, ff#8). Undefined when there is none or the
   * node cannot be read; never throws except on abort.
   */
  async storedBackendData(signal: AbortSignal): Promise<StoredBackendData | undefined> {
    try {
      const node = await this.#ctx.api.getNode(await this.#ctx.nodeName(signal), signal);
      const { names } = this.#ctx;
      if (node.annotations[names.kubeSubnetManager] !== 'true') return undefined;
      const read = (key: string): JsonValue | undefined => {
        const r = decodeBackendData(node.annotations[key]);
        return 'value' in r ? r.value : undefined;
      };
      const v4 = read(names.backendData);
      const v6 = read(names.backendV6Data);
      return v4 === undefined && v6 === undefined ? undefined : { ...(v4 !== undefined ? { v4 } : {}), ...(v6 !== undefined ? { v6 } : {}) };
    } catch (err) {
      if (signal.aborted || isAbortError(err)) throw err;
      this.#ctx.log.debug(`cannot read this node's stored backend data: ${describeError(err)}`);
      return undefined;
    }
  }

  async networkReady(_lease: Lease, signal: AbortSignal): Promise<void> {
    if (!this.#setNodeNetworkUnavailable) return;
    await markNetworkReady(this.#ctx, AbortSignal.any([signal, this.#closing.signal]));
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }
}
