export type { SubnetManager, AcquireOptions, HostNetwork, WatchResult, NodeHints, StoredBackendData } from './manager.ts';
export { E_LEASE_LOST, hostNetworkClash } from './manager.ts';
export { watchPeers, type PeerBatch } from './watch-peers.ts';
export { allocateSubnets, freeCandidates, isPairInPools, isSubnetInPool, overlapsTaken, type AllocateOptions } from './allocate.ts';
