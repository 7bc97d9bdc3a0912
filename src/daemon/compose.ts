/**
 * @module daemon/compose
 * The one place that picks implementations: kernel, subnet manager, backends, traffic rules.
 */
import { alloc, createBackendRegistry, hostGw, vxlan } from '../backend/index.ts';
import type { DaemonOptions } from '../config/index.ts';
import { createNetlinkKernel } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';
import { EtcdSubnetManager } from '../subnet/etcd/index.ts';
import { KubeSubnetManager } from '../subnet/kube/index.ts';
import type { SubnetManager } from '../subnet/index.ts';
import type { DaemonDeps } from './daemon.ts';
import { resolveExternalInterface } from './external-interface.ts';
import { trafficRules } from './traffic-rules.ts';

function createSubnetManager(options: DaemonOptions, log: Logger): SubnetManager {
  if (options.subnetManager === 'kube') {
    return new KubeSubnetManager({ ...options.kube, log: log.forComponent('subnet:kube') });
  }
  return new EtcdSubnetManager({ ...options.etcd, endpoints: [...options.etcd.endpoints], log: log.forComponent('subnet:etcd') });
}

export function composeDaemon(options: DaemonOptions, log: Logger): DaemonDeps {
  const kernel = createNetlinkKernel();
  return {
    options,
    log,
    kernel,
    subnets: createSubnetManager(options, log),
    backends: createBackendRegistry([vxlan(), hostGw(), alloc()]),
    resolveExternalInterface: () => resolveExternalInterface(kernel, options.interfaces, log),
    traffic: trafficRules(options, log),
  };
}
