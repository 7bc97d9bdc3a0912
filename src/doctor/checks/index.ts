/**
 * @module doctor/checks
 * Every check doctor runs, in report order: the daemon and its datastore first, then the node's
 * setup (config, interface, kernel, firewall), then the data plane against the leases, MTU, CNI,
 * and the probes. Each is a pure function over NodeFacts.
 */
import type { CheckSpec } from '../check.ts';
import { cniChecks } from './cni.ts';
import { configChecks } from './config.ts';
import { connectivityChecks } from './connectivity.ts';
import { dataplaneChecks } from './dataplane.ts';
import { datastoreChecks } from './datastore.ts';
import { firewallChecks } from './firewall.ts';
import { flanneldChecks } from './flanneld.ts';
import { ifaceChecks } from './iface.ts';
import { kernelModuleChecks } from './kernel-module.ts';
import { kubeProxyChecks } from './kube-proxy.ts';
import { leaseChecks } from './lease.ts';
import { leasesChecks } from './leases.ts';
import { mtuChecks } from './mtu.ts';
import { subnetEnvChecks } from './subnet-env.ts';
import { sysctlChecks } from './sysctl.ts';
import { vxlanOffloadChecks } from './vxlan-offload.ts';

export const CHECKS: readonly CheckSpec[] = [
  ...flanneldChecks,
  ...subnetEnvChecks,
  ...datastoreChecks,
  ...leaseChecks,
  ...configChecks,
  ...leasesChecks,
  ...ifaceChecks,
  ...sysctlChecks,
  ...kernelModuleChecks,
  ...firewallChecks,
  ...dataplaneChecks,
  ...mtuChecks,
  ...cniChecks,
  ...kubeProxyChecks,
  ...vxlanOffloadChecks,
  ...connectivityChecks,
];
