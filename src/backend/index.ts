export type { Backend, BackendDeps, BackendFactory, ExternalInterface, Network, RegisterOptions } from './backend.ts';
export { baseLeaseAttrs } from './backend.ts';
export { createBackendRegistry, type BackendRegistry } from './registry.ts';
export { alloc } from './alloc/index.ts';
export { vxlan, type VxlanInit } from './vxlan/index.ts';
export { hostGw } from './host-gw/index.ts';
export { wireguard, type WireguardInit } from './wireguard/index.ts';
export type { PassSummary, ReconcileTuning } from './peer-reconciler.ts';
