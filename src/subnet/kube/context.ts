/**
 * @module subnet/kube/context
 * What the manager's parts (acquire, watch, network-ready) share.
 */
import type { Logger } from '../../log/index.ts';
import type { KubeApi } from './api.ts';
import type { AnnotationNames } from './annotations.ts';
import type { KubeTimings } from './options.ts';

export interface KubeContext {
  readonly api: KubeApi;
  readonly names: AnnotationNames;
  readonly log: Logger;
  readonly timings: KubeTimings;
  readonly now: () => number;
  readonly eventQueueDepth: number;
  /** Told when the node watch is connected and when it broke. */
  readonly watchState: (up: boolean) => void;
  /** This node's name (resolved through the pod on first use when only POD_NAME is known). */
  nodeName(signal: AbortSignal): Promise<string>;
}
