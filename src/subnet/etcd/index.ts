export { EtcdSubnetManager } from './manager.ts';
export { EtcdRegistry } from './etcd-registry.ts';
export { DEFAULT_LEASE_TTL_SECONDS, DEFAULT_PREFIX, type EtcdConnectionOptions, type EtcdSubnetManagerOptions } from './options.ts';
export type { Expectation, KeyValue, PutOptions, Registry, WatchBatch, WatchEvent } from './registry.ts';
export { E_ETCD_AUTH, E_ETCD_COMPACTED, E_ETCD_REQUEST, E_ETCD_UNAVAILABLE, E_ETCD_WATCH } from './errors.ts';
