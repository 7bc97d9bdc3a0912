/**
 * @module subnet/etcd/renew
 * Renewal re-puts our value on a fresh etcd lease (upstream never keeps leases alive). A key that
 * expired while we were away is re-created if still free; one another node took is lost.
 */
import { LeaseError } from '../../errors/index.ts';
import { encodeLeaseAttrs, isReservation, type Lease, type LeaseAttrs } from '../../lease/index.ts';
import { E_LEASE_LOST } from '../manager.ts';
import { putWithFreshLease } from './acquire.ts';
import { revokeQuietly, type ManagerContext } from './context.ts';
import { decodeEntry, isReservationKv, pairOfLease, toLease } from './keys.ts';

const RENEW_RETRIES = 10;

function owner(attrs: LeaseAttrs | undefined): string {
  return attrs?.publicIP?.toString() ?? attrs?.publicIPv6?.toString() ?? 'an unreadable value';
}

function sameOwner(a: LeaseAttrs, b: LeaseAttrs): boolean {
  const ip = (x: LeaseAttrs): string | undefined => (x.publicIP ?? x.publicIPv6)?.toString();
  return ip(a) !== undefined && ip(a) === ip(b);
}

/**
 * Renews `lease`, and repairs it when someone else changed it: a missing key is re-created (the
 * subnet is still free), an unreadable or edited value of this node gets this node's value back.
 * A reservation that is still in place is left as it is. Throws LeaseError E_LEASE_LOST when
 * another node holds the key now.
 */
export async function renewLease(ctx: ManagerContext, lease: Lease, signal: AbortSignal): Promise<Lease> {
  const { registry, layout, log } = ctx;
  const pair = pairOfLease(lease);
  const key = layout.leaseKey(pair);
  const value = encodeLeaseAttrs(lease.attrs);
  for (let attempt = 1; attempt <= RENEW_RETRIES; attempt++) {
    const { kv } = await registry.get(key, signal);
    if (!kv) {
      const fresh = await putWithFreshLease(ctx, key, value, { absent: true }, signal);
      if (!fresh) continue;
      log.warn(`lease ${key} was gone from etcd (deleted, or expired while this node could not renew it); re-created it for the same subnet`, { key });
      return toLease(pair, lease.attrs, { modRevision: fresh.revision }, fresh.expiration);
    }
    const current = decodeEntry(layout, kv);
    if (current.attrs && !sameOwner(current.attrs, lease.attrs)) {
      throw new LeaseError(E_LEASE_LOST, `lease ${key} is now held by node ${owner(current.attrs)}, not by this node: another node took this subnet`, {
        hint: 'its lease was deleted or expired while this node held it, and another node leased the subnet; flanneld stops rather than route a subnet another node owns. Start flanneld again to lease a new subnet, then re-create the pods on this node (they keep addresses of the old subnet)',
      });
    }
    // A value that is not a lease attached to no etcd lease is garbage, not an operator's reservation.
    if (isReservationKv(kv) && current.attrs) {
      // An operator turned our lease into a reservation: keep it that way.
      let revision = kv.modRevision;
      if (kv.value !== value) {
        const res = await registry.putIf(key, value, { expect: { modRevision: kv.modRevision } }, signal);
        if (!res.ok) continue;
        revision = res.revision;
      }
      if (!isReservation(lease)) log.info(`lease ${key} is now a reservation (no expiry)`, { key });
      return toLease(pair, lease.attrs, { modRevision: revision }, undefined);
    }
    const fresh = await putWithFreshLease(ctx, key, value, { modRevision: kv.modRevision }, signal);
    if (!fresh) continue;
    await revokeQuietly(ctx, kv.leaseId);
    if (kv.value !== value) {
      const was = current.attrs ? 'another value for this node' : `an unreadable value (${current.problem ?? 'not a lease'})`;
      log.warn(`lease ${key} held ${was}; wrote this node's value back`, { key });
    }
    log.debug(`renewed lease ${key}`, { key, expires: fresh.expiration.toISOString() });
    return toLease(pair, lease.attrs, { modRevision: fresh.revision }, fresh.expiration);
  }
  throw new LeaseError('E_LEASE_RACE', `could not renew lease ${key}: it kept changing under us`, {
    hint: `look for another process writing ${key}; flanneld retries`,
  });
}
