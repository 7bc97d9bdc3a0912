/**
 * @module subnet/kube/client-node-api
 * KubeApi over the official @kubernetes/client-node (1.4.0: 2.x does not load on Node 20).
 * Requests go through the generated CoreV1Api with a per-call middleware that sets the patch
 * content type and the AbortSignal; the node watch uses the client's Watch (a JSON-lines stream).
 * Every object is validated with zod before it leaves this file.
 */
import {
  CoreV1Api,
  Observable,
  PatchStrategy,
  Watch,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { DatastoreError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import type { KubeApi, NodeCondition, NodeView, NodeWatchEvent } from './api.ts';
import { E_KUBE_GONE, E_KUBE_RESPONSE, E_KUBE_UNAVAILABLE, E_KUBE_WATCH, toDatastoreError } from './errors.ts';
import { serverOf } from './kubeconfig.ts';
import { BookmarkSchema, describeIssue, NodeListSchema, parseNode, PodSchema, StatusSchema, WatchEventSchema } from './schema.ts';

const NODES = '/api/v1/nodes';
/** Deadline of one request (not the watch stream): a hung API server fails within about this. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Per-call client options: abort with `signal`, and optionally a Content-Type (patches). */
function callOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre(ctx: RequestContext) {
      ctx.setSignal(signal);
      if (contentType) ctx.setHeaderParam('Content-Type', contentType);
      return new Observable(Promise.resolve(ctx));
    },
    post(res: ResponseContext) {
      return new Observable(Promise.resolve(res));
    },
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

type WatchItem = { event: NodeWatchEvent } | { error: unknown } | { end: true };

export class ClientNodeApi implements KubeApi {
  readonly server: string;
  readonly #kc: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #log: Logger;
  readonly #timeoutMs: number;

  constructor(kc: KubeConfig, log: Logger, requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#kc = kc;
    this.#timeoutMs = requestTimeoutMs;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.server = serverOf(kc);
    this.#log = log;
  }

  /** Runs one request with the caller's signal plus the request deadline, mapping failures. */
  async #call<T>(what: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    signal.throwIfAborted();
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    try {
      return await fn(AbortSignal.any([signal, deadline]));
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (deadline.aborted) {
        throw new DatastoreError(E_KUBE_UNAVAILABLE, `the Kubernetes API at ${this.server} did not answer ${what} within ${this.#timeoutMs / 1000} s`, {
          hint: 'check that the API server is up and reachable from this node; flanneld keeps retrying',
          cause: err,
        });
      }
      throw toDatastoreError(err, this.server, what);
    }
  }

  #node(value: unknown, what: string): NodeView {
    const parsed = parseNode(value);
    if ('problem' in parsed) {
      throw new DatastoreError(E_KUBE_RESPONSE, `${what}: the API server at ${this.server} returned an unreadable Node (${parsed.problem})`);
    }
    return parsed.node;
  }

  async getNode(name: string, signal: AbortSignal): Promise<NodeView> {
    const what = `get node ${name}`;
    const node = await this.#call(what, signal, (sig) => this.#core.readNode({ name }, callOptions(sig)));
    return this.#node(node, what);
  }

  async listNodes(signal: AbortSignal): Promise<{ nodes: NodeView[]; resourceVersion: string }> {
    const what = 'list nodes';
    const raw = await this.#call(what, signal, (sig) => this.#core.listNode({}, callOptions(sig)));
    const list = NodeListSchema.safeParse(raw);
    if (!list.success) throw new DatastoreError(E_KUBE_RESPONSE, `${what}: unreadable NodeList from ${this.server} (${describeIssue(list.error)})`);
    const nodes: NodeView[] = [];
    for (const item of list.data.items) {
      const parsed = parseNode(item);
      if ('node' in parsed) nodes.push(parsed.node);
      else this.#log.warn(`ignoring an unreadable Node in the node list: ${parsed.problem}`);
    }
    return { nodes, resourceVersion: list.data.metadata?.resourceVersion ?? '' };
  }

  async patchNodeAnnotations(name: string, annotations: Readonly<Record<string, string | null>>, signal: AbortSignal): Promise<NodeView> {
    const what = `patch the annotations of node ${name} (nodes/status)`;
    const body = { metadata: { annotations: { ...annotations } } };
    const node = await this.#call(what, signal, (sig) => this.#core.patchNodeStatus({ name, body }, callOptions(sig, PatchStrategy.StrategicMergePatch)));
    return this.#node(node, what);
  }

  async patchNodeCondition(name: string, condition: NodeCondition, signal: AbortSignal): Promise<void> {
    const what = `set condition ${condition.type}=${condition.status} on node ${name} (nodes/status)`;
    const body = { status: { conditions: [{ ...condition }] } };
    await this.#call(what, signal, (sig) => this.#core.patchNodeStatus({ name, body }, callOptions(sig, PatchStrategy.StrategicMergePatch)));
  }

  async getPodNodeName(namespace: string, name: string, signal: AbortSignal): Promise<string> {
    const what = `get pod ${namespace}/${name}`;
    const raw = await this.#call(what, signal, (sig) => this.#core.readNamespacedPod({ namespace, name }, callOptions(sig)));
    const pod = PodSchema.safeParse(raw);
    if (!pod.success) throw new DatastoreError(E_KUBE_RESPONSE, `${what}: unreadable Pod from ${this.server} (${describeIssue(pod.error)})`);
    return pod.data.spec?.nodeName ?? '';
  }

  async *watchNodes(resourceVersion: string, signal: AbortSignal): AsyncGenerator<NodeWatchEvent> {
    signal.throwIfAborted();
    const what = `watch nodes from resource version ${resourceVersion}`;
    const queue: WatchItem[] = [];
    let wake: (() => void) | undefined;
    const push = (item: WatchItem): void => {
      queue.push(item);
      wake?.();
    };
    let ended = false;
    const onEvent = (type: string, object: unknown): void => {
      if (ended) return;
      const ev = WatchEventSchema.safeParse({ type, object });
      if (!ev.success) {
        this.#log.warn(`ignoring an unreadable node watch event: ${describeIssue(ev.error)}`);
        return;
      }
      const { type: kind } = ev.data;
      if (kind === 'ERROR') {
        const status = StatusSchema.safeParse(object);
        const code = status.success ? status.data.code : undefined;
        const message = status.success ? (status.data.message ?? status.data.reason ?? '') : 'unreadable Status';
        push({
          error:
            code === 410
              ? new DatastoreError(E_KUBE_GONE, `${what}: the resource version is too old (watch ERROR 410 ${message})`)
              : new DatastoreError(E_KUBE_WATCH, `${what}: the API server sent a watch error${code ? ` ${code}` : ''}: ${message}`),
        });
        ended = true;
        return;
      }
      if (kind === 'BOOKMARK') {
        const bm = BookmarkSchema.safeParse(object);
        if (bm.success) push({ event: { type: 'BOOKMARK', resourceVersion: bm.data.metadata.resourceVersion } });
        return;
      }
      const parsed = parseNode(object);
      if ('problem' in parsed) {
        this.#log.warn(`ignoring an unreadable Node in a ${kind} watch event: ${parsed.problem}`);
        return;
      }
      push({ event: { type: kind, node: parsed.node } });
    };
    const onDone = (err: unknown): void => {
      if (ended) return;
      ended = true;
      push(err ? { error: signal.aborted ? signal.reason : toDatastoreError(err, this.server, what) } : { end: true });
    };

    const started = new Watch(this.#kc).watch(NODES, { resourceVersion, allowWatchBookmarks: true }, onEvent, onDone);
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (queue.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (signal.aborted) return;
        const item = queue.shift() as WatchItem;
        if ('end' in item) return;
        if ('error' in item) throw item.error;
        yield item.event;
      }
    } finally {
      ended = true;
      signal.removeEventListener('abort', onAbort);
      // The request may still be connecting: abort it whenever it gets that far.
      void started.then((controller) => controller.abort()).catch(() => undefined);
    }
  }
}
