/**
 * @module daemon/compose
 * The one place that picks implementations: kernel, subnet manager, backends, traffic rules.
 */
import { alloc, createBackendRegistry, extension, hostGw, ipip, udp, vxlan, wireguard, type BackendRegistry, type PassSummary } from '../backend/index.ts';
import type { DaemonOptions } from '../config/index.ts';
import { createNetlinkKernel } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';
import type { SubnetManager } from '../subnet/index.ts';
import type { DaemonDeps } from './daemon.ts';
import { resolveExternalInterface } from './external-interface.ts';
import { createHeapRelease } from './heap-release.ts';
import { trafficRules } from './traffic-rules.ts';

/** Only the datastore client in use is loaded (the Kubernetes client alone is tens of MiB). */
async function createSubnetManager(options: DaemonOptions, log: Logger): Promise<SubnetManager> {
  if (options.subnetManager === 'kube') {
    const { KubeSubnetManager } = await import('../subnet/kube/index.ts');
    return new KubeSubnetManager({ ...options.kube, log: log.forComponent('subnet:kube') });
  }
  const { EtcdSubnetManager } = await import('../subnet/etcd/index.ts');
  return new EtcdSubnetManager({ ...options.etcd, endpoints: [...options.etcd.endpoints], log: log.forComponent('subnet:etcd') });
}

export interface BackendChoices {
  /** Called after every reconcile pass (the heap release hooks in here). */
  readonly afterPass?: (summary: PassSummary) => void;
  readonly vxlanDisableTxChecksumOffload?: boolean;
}

/**
 * The one list of backends this build runs (flanneld and `flannel-ts config check` share it),
 * each given its own options.
 */
export function createBackends(choices: BackendChoices = {}): BackendRegistry {
  const tuning = choices.afterPass ? { onPass: choices.afterPass } : {};
  return createBackendRegistry([
    vxlan({ ...tuning, disableTxChecksumOffload: choices.vxlanDisableTxChecksumOffload ?? false }),
    hostGw(tuning),
    wireguard(),
    udp(),
    ipip(tuning),
    extension(),
    alloc(),
  ]);
}

export async function composeDaemon(options: DaemonOptions, log: Logger): Promise<DaemonDeps> {
  const kernel = createNetlinkKernel();
  const { afterPass } = createHeapRelease({ log: log.forComponent('memory') });
  return {
    options,
    log,
    kernel,
    subnets: await createSubnetManager(options, log),
    backends: createBackends({ afterPass, vxlanDisableTxChecksumOffload: options.vxlanDisableTxChecksumOffload }),
    resolveExternalInterface: () => resolveExternalInterface(kernel, options.interfaces, log),
    traffic: trafficRules(options, log),
  };
}
