export type { SubnetManager, AcquireOptions, WatchResult, NodeHints, StoredBackendData } from './manager.ts';
export { watchPeers, type PeerBatch } from './watch-peers.ts';
export { allocateSubnets, freeCandidates, isPairInPools, isSubnetInPool, overlapsTaken, type AllocateOptions } from './allocate.ts';
