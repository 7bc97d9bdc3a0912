/**
 * @module doctor/gather/datastore
 * The datastore as flanneld sees it, read-only: the network configuration and the first
 * snapshot of the leases (every node's, this one's too), and in kube mode this node's object.
 * Never acquires, renews or writes anything: only getNetworkConfig and watchLeases are called.
 */
import type { DaemonOptions } from '../../config/index.ts';
import type { Lease } from '../../lease/index.ts';
import { silentLogger } from '../../log/index.ts';
import type { SubnetManager } from '../../subnet/index.ts';
import type { DatastoreFacts, KubeNodeFact, Read } from '../facts.ts';
import { reachablePath } from './paths.ts';
import { errorText, readFact } from './read.ts';

/** How long the whole datastore read may take (an unreachable etcd is retried until then). */
export const DATASTORE_TIMEOUT_MS = 15_000;

function read<T>(what: Promise<T>): Promise<Read<T>> {
  return readFact(() => what);
}

/** The first snapshot of watchLeases, then the watch is ended. */
async function firstSnapshot(manager: SubnetManager, signal: AbortSignal): Promise<readonly Lease[]> {
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  try {
    for await (const batch of manager.watchLeases(both)) {
      if (batch.kind === 'snapshot') return batch.leases;
    }
  } finally {
    stop.abort();
  }
  signal.throwIfAborted();
  throw new Error('the lease watch ended before it listed the leases');
}

function timedOut(signal: AbortSignal, what: string): Error | undefined {
  return signal.aborted ? new Error(`${what}: no answer within ${DATASTORE_TIMEOUT_MS / 1000} s`) : undefined;
}

async function withDeadline<T>(signal: AbortSignal, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw timedOut(signal, what) ?? err;
  }
}

/** How long the lease watch may go on once another read of the same datastore failed (it is most likely down). */
const AFTER_FAILURE_MS = 1000;

/**
 * The configuration and the leases, read side by side. The watch retries an unreachable
 * datastore until the deadline, one-shot reads (the configuration, kube's node) give up after one
 * request: once one of those failed, the watch gets a short while more and then the same verdict.
 */
async function configAndLeases(m: SubnetManager, what: string, signal: AbortSignal, others: ReadonlyArray<Promise<Read<unknown>>> = []): Promise<Pick<DatastoreFacts, 'config' | 'leases'>> {
  const giveUp = new AbortController();
  let because = '';
  let timer: NodeJS.Timeout | undefined;
  const config = read(withDeadline(signal, what, () => m.getNetworkConfig(signal)));
  for (const r of [config, ...others]) {
    void r.then((x) => {
      if (!('error' in x) || timer) return;
      because = x.error;
      timer = setTimeout(() => giveUp.abort(), AFTER_FAILURE_MS);
    });
  }
  try {
    const leases = await read(
      (async () => {
        try {
          return await firstSnapshot(m, AbortSignal.any([signal, giveUp.signal]));
        } catch (err) {
          if (giveUp.signal.aborted && !signal.aborted) throw new Error(because);
          throw timedOut(signal, what) ?? err;
        }
      })(),
    );
    return { config: await config, leases };
  } finally {
    clearTimeout(timer);
  }
}

async function gatherEtcd(options: DaemonOptions, signal: AbortSignal): Promise<DatastoreFacts> {
  const where = `etcd ${options.etcd.endpoints.join(', ')} (prefix ${options.etcd.prefix})`;
  let manager: SubnetManager | undefined;
  try {
    const { EtcdSubnetManager } = await import('../../subnet/etcd/index.ts');
    manager = new EtcdSubnetManager({ ...options.etcd, endpoints: [...options.etcd.endpoints], log: silentLogger });
    const m = manager;
    return { kind: 'etcd', where, ...(await configAndLeases(m, 'etcd', signal)) };
  } catch (err) {
    const error = errorText(err);
    return { kind: 'etcd', where, config: { error }, leases: { error } };
  } finally {
    await manager?.close().catch(() => undefined);
  }
}

async function gatherKube(options: DaemonOptions, env: Readonly<Record<string, string>>, pid: number | undefined, signal: AbortSignal): Promise<DatastoreFacts> {
  let where = `the Kubernetes API ${options.kube.apiUrl ?? options.kube.kubeconfigFile ?? '(in-cluster)'}`;
  let manager: SubnetManager | undefined;
  try {
    const [{ KubeSubnetManager, ClientNodeApi, loadKubeConfig }, { nodeIdentity }] = await Promise.all([
      import('../../subnet/kube/index.ts'),
      import('../../subnet/kube/options.ts'),
    ]);
    const api = new ClientNodeApi(loadKubeConfig({ apiUrl: options.kube.apiUrl, kubeconfigFile: options.kube.kubeconfigFile, env }), silentLogger, DATASTORE_TIMEOUT_MS);
    where = `the Kubernetes API ${api.server}`;
    const netConfigPath = await reachablePath(options.kube.netConfigPath, pid);
    manager = new KubeSubnetManager({ ...options.kube, netConfigPath, env, api, log: silentLogger });
    const m = manager;
    const nodeFact = async (): Promise<KubeNodeFact> => {
      const id = nodeIdentity({ ...env });
      const name = 'name' in id ? id.name : await api.getPodNodeName(id.pod.namespace, id.pod.name, signal);
      const node = await api.getNode(name, signal);
      return { name: node.name, podCidrs: node.podCIDRs };
    };
    const node = read(withDeadline(signal, where, nodeFact));
    const both = await configAndLeases(m, where, signal, [node]);
    return { kind: 'kube', where, ...both, node: await node };
  } catch (err) {
    // No API connection or no node identity: net-conf.json is a local file and still tells something.
    const error = errorText(err);
    const { readNetConfig } = await import('../../subnet/kube/net-config.ts');
    const path = await reachablePath(options.kube.netConfigPath, pid);
    const config = await read(readNetConfig(path, signal).then((r) => r.config));
    return { kind: 'kube', where, config, leases: { error }, node: { error } };
  } finally {
    await manager?.close().catch(() => undefined);
  }
}

/** Reads the datastore flanneld uses; every part that fails is an error value, never a throw. */
export async function gatherDatastore(options: DaemonOptions, env: Readonly<Record<string, string>>, pid: number | undefined, parent?: AbortSignal): Promise<DatastoreFacts> {
  const deadline = AbortSignal.timeout(DATASTORE_TIMEOUT_MS);
  const signal = parent ? AbortSignal.any([parent, deadline]) : deadline;
  return options.subnetManager === 'kube' ? await gatherKube(options, env, pid, signal) : await gatherEtcd(options, signal);
}
