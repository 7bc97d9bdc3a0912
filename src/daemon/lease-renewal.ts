/**
 * @module daemon/lease-renewal
 * Keeps the lease alive: renews `margin` before expiry, retries with backoff on failure, and
 * reports each new lease (so subnet.env and the backend see the same one).
 */
import { describeError, isAbortError } from '../errors/index.ts';
import { isReservation, type Lease } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import type { SubnetManager } from '../subnet/index.ts';
import { sleep } from '../async/index.ts';

export interface RenewalOptions {
  subnets: SubnetManager;
  lease: Lease;
  marginMs: number;
  log: Logger;
  signal: AbortSignal;
  now?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export async function runLeaseRenewal(o: RenewalOptions): Promise<void> {
  const now = o.now ?? Date.now;
  let lease = o.lease;
  let retryMs = 1000;
  if (isReservation(lease)) {
    o.log.info('lease is a reservation (no TTL): nothing to renew');
    return;
  }
  for (;;) {
    const due = (lease.expiration?.getTime() ?? now()) - o.marginMs;
    const wait = Math.max(0, due - now());
    try {
      await sleep(Math.min(wait, MAX_TIMER_MS), o.signal);
      if (due > now()) continue;
      lease = await o.subnets.renewLease(lease, o.signal);
      retryMs = 1000;
      o.log.info(`lease renewed, expires ${lease.expiration?.toISOString() ?? 'never'}`, { subnet: lease.subnet?.toString() });
    } catch (err) {
      if (o.signal.aborted || isAbortError(err)) return;
      o.log.error(`failed to renew lease, retrying in ${retryMs / 1000}s: ${describeError(err)}`);
      await sleep(retryMs, o.signal).catch(() => undefined);
      if (o.signal.aborted) return;
      retryMs = Math.min(retryMs * 2, 60_000);
    }
  }
}
