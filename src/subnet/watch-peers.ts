/**
 * @module subnet/watch-peers
 * The peer event stream every backend consumes: the manager's snapshots and deltas run through
 * a LeaseWatcher (own lease dropped, re-lists diffed), one info line per peer change. Every
 * snapshot is reported, even one that changes nothing: a data plane may only garbage-collect
 * once it knows the full peer set, and an empty cluster would otherwise never say so.
 */
import { describeLease, LeaseWatcher, type Lease, type LeaseEvent } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import type { SubnetManager } from './manager.ts';

export interface PeerBatch {
  readonly events: readonly LeaseEvent[];
  /** The batch came from a snapshot: after applying it, the peer set is complete. */
  readonly snapshot: boolean;
}

export async function* watchPeers(subnets: SubnetManager, own: Lease, signal: AbortSignal, log: Logger): AsyncGenerator<PeerBatch> {
  const watcher = new LeaseWatcher(own);
  for await (const result of subnets.watchLeases(signal)) {
    const snapshot = result.kind === 'snapshot';
    const events = snapshot ? watcher.reset(result.leases) : watcher.update(result.events);
    if (snapshot) log.debug('peer snapshot', { peers: watcher.peers.length, changes: events.length });
    for (const ev of events) {
      log.info(`Subnet ${ev.type}: ${describeLease(ev.lease)}`, { event: ev.type, subnet: ev.lease.subnet?.toString(), ipv6Subnet: ev.lease.ipv6Subnet?.toString() });
    }
    if (snapshot || events.length > 0) yield { events, snapshot };
  }
}
