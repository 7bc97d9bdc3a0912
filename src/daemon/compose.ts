/**
 * @module daemon/compose
 * The one place that picks implementations: kernel, subnet manager, backends, traffic rules.
 */
import { alloc, createBackendRegistry, extension, hostGw, ipip, udp, vxlan, wireguard, type BackendRegistry, type PassSummary } from '../backend/index.ts';
import { packetCounts } from '../backend/udp/index.ts';
import { VERSION } from '../cli/version.ts';
import type { DaemonOptions } from '../config/index.ts';
import { createNetlinkKernel } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';
import { createMetrics, type FlannelMetrics } from '../metrics/index.ts';
import type { SubnetManager } from '../subnet/index.ts';
import type { DaemonDeps } from './daemon.ts';
import { resolveExternalInterface } from './external-interface.ts';
import { createHeapRelease } from './heap-release.ts';
import { trafficRules } from './traffic-rules.ts';

/** Only the datastore client in use is loaded (the Kubernetes client alone is tens of MiB). */
async function createSubnetManager(options: DaemonOptions, log: Logger, onWatchState?: (up: boolean) => void): Promise<SubnetManager> {
  const watch = onWatchState ? { onWatchState } : {};
  if (options.subnetManager === 'kube') {
    const { KubeSubnetManager } = await import('../subnet/kube/index.ts');
    return new KubeSubnetManager({ ...options.kube, log: log.forComponent('subnet:kube'), ...watch });
  }
  const { EtcdSubnetManager } = await import('../subnet/etcd/index.ts');
  return new EtcdSubnetManager({ ...options.etcd, endpoints: [...options.etcd.endpoints], log: log.forComponent('subnet:etcd'), ...watch });
}

export interface BackendChoices {
  /** Called after every reconcile pass (the heap release hooks in here). */
  readonly afterPass?: (summary: PassSummary) => void;
  readonly vxlanDisableTxChecksumOffload?: boolean;
  /** Fed by the backends: reconcile passes, udp packet counters, wireguard-go restarts. */
  readonly metrics?: FlannelMetrics;
}

/**
 * The one list of backends this build runs (flanneld and `flannel-ts config check` share it),
 * each given its own options.
 */
export function createBackends(choices: BackendChoices = {}): BackendRegistry {
  const { afterPass, metrics } = choices;
  const tuning = (backend: string): { onPass?: (summary: PassSummary) => void } => {
    if (!metrics) return afterPass ? { onPass: afterPass } : {};
    return {
      onPass: (summary) => {
        afterPass?.(summary);
        metrics.reconcilePass(backend, summary);
      },
    };
  };
  return createBackendRegistry([
    vxlan({ ...tuning('vxlan'), disableTxChecksumOffload: choices.vxlanDisableTxChecksumOffload ?? false }),
    hostGw(tuning('host-gw')),
    wireguard(metrics ? { onWireguardGo: (device, restarts) => metrics.readWireguardGoRestarts(device, restarts) } : {}),
    udp(metrics ? { onStats: (read) => metrics.readUdpPackets(() => packetCounts(read())) } : {}),
    ipip(tuning('ipip')),
    extension(),
    alloc(),
  ]);
}

export async function composeDaemon(options: DaemonOptions, log: Logger): Promise<DaemonDeps> {
  const kernel = createNetlinkKernel();
  const { afterPass } = createHeapRelease({ log: log.forComponent('memory') });
  const metrics = createMetrics({ version: VERSION, datastore: options.subnetManager });
  return {
    options,
    log,
    kernel,
    subnets: await createSubnetManager(options, log, (up) => metrics.datastoreWatchState(up)),
    backends: createBackends({ afterPass, metrics, vxlanDisableTxChecksumOffload: options.vxlanDisableTxChecksumOffload }),
    resolveExternalInterface: () => resolveExternalInterface(kernel, options.interfaces, log),
    traffic: trafficRules(options, log, undefined, (outcome) => metrics.trafficResync(outcome)),
    metrics,
  };
}
