export * from './lease.ts';
export { encodeLeaseAttrs, decodeLeaseAttrs } from './codec.ts';
export { LeaseWatcher } from './watcher.ts';
