/**
 * @module subnet/kube/network-ready
 * Once the network is up (subnet.env written), upstream clears the node condition that keeps
 * pods off a node without a network: NetworkUnavailable=False, reason FlannelIsUp. Transient
 * failures are retried until the signal aborts; a refusal (401/403/404) is returned at once.
 */
import { describeError } from '../../errors/index.ts';
import type { NodeCondition } from './api.ts';
import { Backoff, sleep } from '../../async/index.ts';
import type { KubeContext } from './context.ts';
import { E_KUBE_AUTH, E_KUBE_FORBIDDEN, E_KUBE_NOT_FOUND, isKubeError } from './errors.ts';

/** RFC 3339 in whole seconds, as metav1.Time marshals. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function flannelIsUp(nowMs: number): NodeCondition {
  const t = kubeTime(nowMs);
  return {
    type: 'NetworkUnavailable',
    status: 'False',
    lastHeartbeatTime: t,
    lastTransitionTime: t,
    reason: 'FlannelIsUp',
    message: 'Flannel is running on this node',
  };
}

export async function markNetworkReady(ctx: KubeContext, signal: AbortSignal): Promise<void> {
  const name = await ctx.nodeName(signal);
  const backoff = new Backoff(ctx.timings.retryInitialMs, ctx.timings.retryMaxMs);
  for (;;) {
    try {
      await ctx.api.patchNodeCondition(name, flannelIsUp(ctx.now()), signal);
      ctx.log.info(`set condition NetworkUnavailable=False (FlannelIsUp) on node ${name}`, { node: name });
      return;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if ([E_KUBE_AUTH, E_KUBE_FORBIDDEN, E_KUBE_NOT_FOUND].some((code) => isKubeError(err, code))) throw err;
      const ms = backoff.next();
      ctx.log.warn(`cannot set NetworkUnavailable=False on node ${name}, retrying in ${ms} ms: ${describeError(err)}`, { node: name });
      await sleep(ms, signal);
    }
  }
}
