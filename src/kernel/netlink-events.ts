/**
 * @module kernel/netlink-events
 * rtnetlink notifications on a socket of their own. We listen below the package's
 * RtNetlinkSocket because its parsed messages drop the message type, and NEW vs DEL is the point.
 *
 * netlink 0.3.0 aborts the process when a socket's receive buffer overflows (see
 * netlink-pipeline.ts), so the buffer is made as large as the kernel allows, requests are paced
 * while anyone listens, and a small buffer is reported.
 */
import { createRtNetlink } from 'netlink';
import type { Logger } from '../log/index.ts';
import type { EventGroup, KernelEvent } from './types.ts';
import { decodeEvent, multicastGroups } from './netlink-codec.ts';

/** Notifications come in bursts (5000 routes replaced, a VXLAN device with 5000 peers deleted). */
export const EVENT_RECV_BUFFER = 8 << 20;
/** Below this (effective, i.e. doubled) size, deleting a device with a few thousand peers overflows. */
const COMFORTABLE_RECV_BUFFER = 8 << 20;

let listeners = 0;

/** How many notification sockets this process has open (requests are paced while > 0). */
export function notificationListeners(): number {
  return listeners;
}

/** Subscribes; returns a function that ends the subscription (also called when `signal` aborts). */
export function subscribeNetlink(
  groups: readonly EventGroup[],
  signal: AbortSignal,
  onEvent: (event: KernelEvent) => void,
  logger: Logger,
  recvBufferSize = EVENT_RECV_BUFFER,
): () => void {
  if (signal.aborted) return () => {};
  const wanted = new Set(groups);
  // ref: true keeps the process alive while someone is listening.
  const socket = createRtNetlink({ ref: true, recvBufferSize, sendBufferSize: 0 });
  const inner = socket.socket;
  let open = true;
  listeners++;
  const deliver = (event: KernelEvent): void => {
    try {
      onEvent(event);
    } catch (err) {
      logger.error('kernel event handler failed', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  inner.on('message', (msgs) => {
    for (const m of msgs) {
      let event: KernelEvent | undefined;
      try {
        event = decodeEvent(m.type, m.data, wanted);
      } catch (err) {
        logger.debug('undecodable kernel notification', { type: m.type, error: err instanceof Error ? err.message : String(err) });
      }
      if (event && open) deliver(event);
    }
  });
  inner.on('error', (err) => {
    if ((err as { code?: string }).code === 'ENOBUFS') deliver({ type: 'overrun' });
    else logger.warn('netlink event socket error', { error: err.message });
  });
  for (const g of multicastGroups(groups)) socket.addMembership(g);
  const effective = inner.getRecvBufferSize();
  if (effective < COMFORTABLE_RECV_BUFFER) {
    logger.warn('small netlink receive buffer: a burst of kernel notifications would abort flanneld (netlink 0.3.0)', {
      bytes: effective,
      hint: 'raise net.core.rmem_max to 4194304 or more',
    });
  }

  const stop = (): void => {
    if (!open) return;
    open = false;
    listeners--;
    signal.removeEventListener('abort', stop);
    inner.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  return stop;
}
