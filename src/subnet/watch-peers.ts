/**
 * @module subnet/watch-peers
 * The peer event stream every backend consumes: the manager's snapshots and deltas run through
 * a LeaseWatcher (own lease dropped, re-lists diffed), one info line per peer change.
 */
import { describeLease, LeaseWatcher, type Lease, type LeaseEvent } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import type { SubnetManager } from './manager.ts';

export async function* watchPeers(subnets: SubnetManager, own: Lease, signal: AbortSignal, log: Logger): AsyncGenerator<LeaseEvent[]> {
  const watcher = new LeaseWatcher(own);
  for await (const result of subnets.watchLeases(signal)) {
    const batch = result.kind === 'snapshot' ? watcher.reset(result.leases) : watcher.update(result.events);
    if (result.kind === 'snapshot') log.debug('peer snapshot', { peers: watcher.peers.length, changes: batch.length });
    for (const ev of batch) {
      log.info(`Subnet ${ev.type}: ${describeLease(ev.lease)}`, { event: ev.type, subnet: ev.lease.subnet?.toString(), ipv6Subnet: ev.lease.ipv6Subnet?.toString() });
    }
    if (batch.length > 0) yield batch;
  }
}
