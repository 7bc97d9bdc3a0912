/**
 * @module daemon/lease-renewal
 * Keeps this node's lease: renews it `margin` before expiry (retrying with backoff), and at once
 * when someone else disturbed it (see OwnLeaseTap): a deleted lease whose subnet is still free is
 * re-created, an edited one gets this node's value back. A lease another node now holds is lost:
 * that ends the keeper with the LeaseError, since routing a subnet another node owns breaks both.
 */
import { describeError, isAbortError, LeaseError } from '../errors/index.ts';
import { isReservation, type Lease } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import { E_LEASE_LOST, type SubnetManager } from '../subnet/index.ts';
import { sleep } from '../async/index.ts';
import type { FlannelMetrics } from '../metrics/index.ts';
import type { OwnLeaseChange } from './own-lease-tap.ts';

export interface RenewalOptions {
  subnets: SubnetManager;
  lease: Lease;
  marginMs: number;
  log: Logger;
  signal: AbortSignal;
  /** Where the keeper hears of changes made by others (the daemon wires an OwnLeaseTap). */
  follow?: (lease: Lease, onChange: (change: OwnLeaseChange) => void) => void;
  now?: () => number;
  metrics?: Pick<FlannelMetrics, 'leaseRenewed' | 'leaseReacquired'>;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function describeChange(change: OwnLeaseChange): string {
  if (change.kind === 'missing') return 'it disappeared from the datastore';
  const ip = change.lease.attrs.publicIP ?? change.lease.attrs.publicIPv6;
  return `it was rewritten (now PublicIP ${ip?.toString() ?? 'none'}, backend ${change.lease.attrs.backendType})`;
}

export async function runLeaseRenewal(o: RenewalOptions): Promise<void> {
  const now = o.now ?? Date.now;
  let lease = o.lease;
  let retryMs = 1000;
  let disturbed: OwnLeaseChange | undefined;
  let wake: AbortController | undefined;
  o.follow?.(lease, (change) => {
    disturbed = change;
    wake?.abort();
  });
  if (isReservation(lease) && !o.follow) {
    o.log.info('lease is a reservation (no TTL): nothing to renew');
    return;
  }
  /** A change not yet repaired (kept across failed attempts, so a retry still repairs it). */
  let change: OwnLeaseChange | undefined;
  for (;;) {
    const expiry = isReservation(lease) ? undefined : (lease.expiration?.getTime() ?? now());
    const due = expiry === undefined ? Number.POSITIVE_INFINITY : expiry - o.marginMs;
    try {
      if (!disturbed && !change) {
        wake = new AbortController();
        const wait = Math.min(Math.max(0, due - now()), MAX_TIMER_MS);
        await sleep(wait, AbortSignal.any([o.signal, wake.signal])).catch((err: unknown) => {
          if (o.signal.aborted) throw err;
        });
        wake = undefined;
      }
      const fresh = disturbed;
      disturbed = undefined;
      change = fresh ?? change;
      if (!change && due > now()) continue;
      if (fresh) o.log.warn(`this node's lease ${describeLeaseOf(lease)} was changed by someone else: ${describeChange(fresh)}; checking it and taking it back`);
      lease = await o.subnets.renewLease(lease, o.signal);
      retryMs = 1000;
      const repaired = change;
      change = undefined;
      if (repaired) o.metrics?.leaseReacquired(lease);
      else o.metrics?.leaseRenewed(lease);
      if (repaired) {
        o.log.warn(`re-acquired this node's lease ${describeLeaseOf(lease)} (same subnet); peers route to it again`, { subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString() });
      } else {
        o.log.info(`lease renewed, expires ${lease.expiration?.toISOString() ?? 'never'}`, { subnet: lease.subnet?.toString() });
      }
    } catch (err) {
      if (o.signal.aborted || isAbortError(err)) return;
      if (err instanceof LeaseError && err.code === E_LEASE_LOST) throw err;
      o.log.error(`failed to renew lease, retrying in ${retryMs / 1000}s: ${describeError(err)}`);
      await sleep(retryMs, o.signal).catch(() => undefined);
      if (o.signal.aborted) return;
      retryMs = Math.min(retryMs * 2, 60_000);
    }
  }
}

function describeLeaseOf(lease: Lease): string {
  return [lease.subnet, lease.ipv6Subnet].filter(Boolean).map(String).join(' + ');
}
