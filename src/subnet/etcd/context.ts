/**
 * @module subnet/etcd/context
 * What the manager's parts (acquire, renew, watch) share.
 */
import type { Logger } from '../../log/index.ts';
import type { ExpirationCache } from './expirations.ts';
import type { KeyLayout } from './keys.ts';
import type { Registry } from './registry.ts';

export interface ManagerContext {
  readonly registry: Registry;
  readonly layout: KeyLayout;
  readonly ttlSeconds: number;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly expirations: ExpirationCache;
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  readonly requestTimeoutMs: number;
  /** Told when the lease watch is connected and when it broke. */
  readonly watchState: (up: boolean) => void;
}

/** Best-effort revoke of an etcd lease we no longer need (it would expire by itself anyway). */
export async function revokeQuietly(ctx: ManagerContext, leaseId: string): Promise<void> {
  if (leaseId === '0') return;
  try {
    await ctx.registry.revokeLease(leaseId, AbortSignal.timeout(ctx.requestTimeoutMs));
  } catch (err) {
    ctx.log.debug('could not revoke an unused etcd lease; it will expire by itself', { leaseId, error: (err as Error).message });
  }
}
