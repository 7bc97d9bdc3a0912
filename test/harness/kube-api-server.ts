/**
 * An in-suite fake Kubernetes API server (node:http, real HTTP) implementing exactly the wire
 * behaviour flanneld's Kubernetes subnet manager uses through @kubernetes/client-node:
 *   GET   /api/v1/nodes                              NodeList with metadata.resourceVersion
 *   GET   /api/v1/nodes?watch=true&resourceVersion=N JSON lines ADDED/MODIFIED/DELETED; when N is
 *                                                    older than the kept history: HTTP 200 and one
 *                                                    ERROR event {code:410, reason:"Expired"}, as
 *                                                    the real server does (or HTTP 410 on request)
 *   GET   /api/v1/nodes/{name}
 *   PATCH /api/v1/nodes/{name}[/status]              strategic-merge-patch+json, merge-patch+json;
 *                                                    the main resource ignores status, /status
 *                                                    ignores spec; others → 415
 *   GET   /api/v1/namespaces/{ns}/pods/{name}
 * Bearer token auth (401 without), and by default upstream's RBAC for flannel (nodes get/list/
 * watch, nodes/status patch, pods get; anything else 403). Test hooks change objects, cut or
 * expire watch streams and record every request. Runs in this process, or in a network
 * namespace through kube-api-server-main.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { isObject, mergePatch, strategicMergePatch, type Json, type JsonObject } from './kube-patch.ts';

export type { Json, JsonObject } from './kube-patch.ts';

export interface FakeKubeApiOptions {
  host?: string;
  port?: number;
  /** The accepted bearer token (default: random). */
  token?: string;
  /** Watch events kept for resuming watches (default 1000); older resource versions get 410. */
  historyLimit?: number;
  /** 'upstream' (default): only what kube-flannel.yml's ClusterRole grants; 'all': everything. */
  rbac?: 'upstream' | 'all';
}

export interface NodeSpecInput {
  name: string;
  podCIDRs?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: Json | undefined;
  status: number;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  rv: number;
  type: EventType;
  object: JsonObject;
}

interface OpenWatch {
  res: ServerResponse;
  socket: Socket;
}

const NAME = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';

function status(code: number, reason: string, message: string, details?: JsonObject): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export class FakeKubeApiServer {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #historyLimit: number;
  readonly #rbac: 'upstream' | 'all';
  readonly #nodes = new Map<string, JsonObject>();
  readonly #pods = new Map<string, JsonObject>();
  readonly #history: HistoryEvent[] = [];
  readonly #watches = new Set<OpenWatch>();
  readonly #sockets = new Set<Socket>();
  #rv = 100;
  /** Watches may resume from this resource version or later. */
  #minWatchRv = 0;
  #goneNext: Array<'event' | 'http'> = [];
  #outage = false;
  #hang = false;
  #url = '';

  private constructor(o: FakeKubeApiOptions) {
    this.token = o.token ?? randomBytes(16).toString('hex');
    this.#historyLimit = o.historyLimit ?? 1000;
    this.#rbac = o.rbac ?? 'upstream';
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(o: FakeKubeApiOptions = {}): Promise<FakeKubeApiServer> {
    const srv = new FakeKubeApiServer(o);
    const host = o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      srv.#server.once('error', reject);
      srv.#server.listen(o.port ?? 0, host, () => resolve());
    });
    const { port } = srv.#server.address() as AddressInfo;
    srv.#url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return srv;
  }

  get url(): string {
    return this.#url;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  // ---- test hooks ---------------------------------------------------------------------------

  addNode(spec: NodeSpecInput): JsonObject {
    if (this.#nodes.has(spec.name)) throw new Error(`node ${spec.name} exists`);
    const node: JsonObject = {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: {
        name: spec.name,
        uid: randomUUID(),
        resourceVersion: '',
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        labels: { 'kubernetes.io/hostname': spec.name, ...spec.labels },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', ...spec.annotations },
      },
      spec: spec.podCIDRs && spec.podCIDRs.length > 0 ? { podCIDR: spec.podCIDRs[0] as string, podCIDRs: spec.podCIDRs } : {},
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }], addresses: [] },
    };
    return this.#store('ADDED', node);
  }

  /** Sets spec.podCIDRs (and podCIDR to the first), as kube-controller-manager does. */
  setPodCIDRs(name: string, cidrs: string[]): JsonObject {
    const node = this.#mustNode(name);
    node.spec = cidrs.length > 0 ? { ...(isObject(node.spec) ? node.spec : {}), podCIDR: cidrs[0] as string, podCIDRs: cidrs } : {};
    return this.#store('MODIFIED', node);
  }

  /** Merges annotations; null removes one. */
  setAnnotations(name: string, patch: Record<string, string | null>): JsonObject {
    const node = this.#mustNode(name);
    const meta = node.metadata as JsonObject;
    meta.annotations = mergePatch(meta.annotations, patch) as JsonObject;
    return this.#store('MODIFIED', node);
  }

  deleteNode(name: string): void {
    const node = this.#mustNode(name);
    this.#nodes.delete(name);
    this.#rv++;
    (node.metadata as JsonObject).resourceVersion = String(this.#rv);
    this.#emit({ rv: this.#rv, type: 'DELETED', object: node });
  }

  addPod(namespace: string, name: string, nodeName: string): void {
    this.#pods.set(`${namespace}/${name}`, {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name, namespace, uid: randomUUID(), resourceVersion: String(++this.#rv) },
      spec: { nodeName, containers: [{ name: 'kube-flannel', image: 'flannel-ts' }] },
    });
  }

  /** A copy of the stored node, exactly as served. */
  node(name: string): JsonObject | undefined {
    const n = this.#nodes.get(name);
    return n ? structuredClone(n) : undefined;
  }

  nodeNames(): string[] {
    return [...this.#nodes.keys()].sort();
  }

  openWatches(): number {
    return this.#watches.size;
  }

  /** Destroys every open watch connection mid-stream (no final chunk). */
  cutWatches(): number {
    const n = this.#watches.size;
    for (const w of this.#watches) w.socket.destroy();
    this.#watches.clear();
    return n;
  }

  /** Forgets the event history: any watch from an older resource version gets 410 Gone. */
  compact(): void {
    this.#history.length = 0;
    this.#minWatchRv = this.#rv;
  }

  /** Sends every open watch an ERROR 410 event and ends it, as the server does when its window moves on. */
  expireWatches(): number {
    const n = this.#watches.size;
    for (const w of this.#watches) {
      w.res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: watch window moved on') })}\n`);
    }
    this.#watches.clear();
    return n;
  }

  /** The next `count` watch requests get 410: as an ERROR event in a 200 stream, or as HTTP 410. */
  goneOnNextWatches(count: number, mode: 'event' | 'http' = 'event'): void {
    for (let i = 0; i < count; i++) this.#goneNext.push(mode);
  }

  /** While on, every request's connection is reset and open watches are cut (an API server outage). */
  setOutage(on: boolean): void {
    this.#outage = on;
    if (on) this.cutWatches();
  }

  /** While on, requests are read but never answered (a hung API server). */
  setHang(on: boolean): void {
    this.#hang = on;
  }

  async close(): Promise<void> {
    for (const w of this.#watches) w.res.destroy();
    this.#watches.clear();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- storage --------------------------------------------------------------------------------

  #mustNode(name: string): JsonObject {
    const n = this.#nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return structuredClone(n);
  }

  #store(type: EventType, node: JsonObject): JsonObject {
    this.#rv++;
    const meta = node.metadata as JsonObject;
    meta.resourceVersion = String(this.#rv);
    this.#nodes.set(meta.name as string, structuredClone(node));
    this.#emit({ rv: this.#rv, type, object: structuredClone(node) });
    return structuredClone(node);
  }

  #emit(ev: HistoryEvent): void {
    this.#history.push(ev);
    while (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.shift() as HistoryEvent;
      this.#minWatchRv = dropped.rv;
    }
    const line = `${JSON.stringify({ type: ev.type, object: ev.object })}\n`;
    for (const w of this.#watches) w.res.write(line);
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#outage) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams.entries());
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let text = '';
    for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
    let body: Json | undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        body = text;
      }
    }
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, contentType, body, status: 0 };
    this.requests.push(record);
    if (this.#hang) return;
    const send = (code: number, obj: Json): void => {
      record.status = code;
      const payload = JSON.stringify(obj);
      res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
      res.end(payload);
    };

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const route = this.#route(req.method ?? 'GET', url.pathname, query);
    if (!route) {
      send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (this.#rbac === 'upstream' && !route.allowed) {
      send(
        403,
        status(403, 'Forbidden', `${route.resource} is forbidden: User "system:serviceaccount:kube-flannel:flannel" cannot ${route.verb} resource "${route.resource.split(' ')[0]}" in API group "" at the cluster scope`),
      );
      return;
    }
    const [status_, obj] = route.run(contentType, body);
    if (status_ === -1) {
      record.status = 200;
      this.#startWatch(req, res, query);
      return;
    }
    send(status_, obj);
  }

  #route(
    method: string,
    path: string,
    query: Record<string, string>,
  ): { verb: string; resource: string; allowed: boolean; run: (ct: string | undefined, body: Json | undefined) => [number, Json] } | undefined {
    const nodes = /^\/api\/v1\/nodes\/?$/.exec(path);
    const node = new RegExp(`^/api/v1/nodes/(${NAME})(/status)?$`).exec(path);
    const pod = new RegExp(`^/api/v1/namespaces/(${NAME})/pods/(${NAME})$`).exec(path);
    if (nodes && method === 'GET') {
      const watch = query.watch === 'true' || query.watch === '1';
      return {
        verb: watch ? 'watch' : 'list',
        resource: 'nodes',
        allowed: true,
        run: () => (watch ? [-1, null] : [200, this.#list()]),
      };
    }
    if (node && method === 'GET' && !node[2]) {
      const name = node[1] as string;
      return { verb: 'get', resource: `nodes "${name}"`, allowed: true, run: () => this.#get(name) };
    }
    if (node && method === 'PATCH') {
      const name = node[1] as string;
      const sub = node[2] ? 'status' : undefined;
      return {
        verb: 'patch',
        resource: sub ? `nodes/status "${name}"` : `nodes "${name}"`,
        allowed: sub === 'status',
        run: (ct, body) => this.#patch(name, sub, ct, body),
      };
    }
    if (pod && method === 'GET') {
      const key = `${pod[1]}/${pod[2]}`;
      return {
        verb: 'get',
        resource: `pods "${pod[2]}"`,
        allowed: true,
        run: () => {
          const p = this.#pods.get(key);
          return p ? [200, p] : [404, status(404, 'NotFound', `pods "${pod[2]}" not found`, { name: pod[2] as string, kind: 'pods' })];
        },
      };
    }
    return undefined;
  }

  #list(): JsonObject {
    return { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) }, items: [...this.#nodes.values()] };
  }

  #get(name: string): [number, Json] {
    const n = this.#nodes.get(name);
    return n ? [200, n] : [404, status(404, 'NotFound', `nodes "${name}" not found`, { name, kind: 'nodes' })];
  }

  #patch(name: string, sub: 'status' | undefined, contentType: string | undefined, body: Json | undefined): [number, Json] {
    const old = this.#nodes.get(name);
    if (!old) return [404, status(404, 'NotFound', `nodes "${name}" not found`, { name, kind: 'nodes' })];
    let merged: Json;
    if (contentType === 'application/strategic-merge-patch+json') merged = strategicMergePatch(old, body ?? null);
    else if (contentType === 'application/merge-patch+json') merged = mergePatch(old, body ?? null);
    else return [415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/strategic-merge-patch+json, application/merge-patch+json (got ${String(contentType)})`)];
    if (!isObject(merged) || !isObject(merged.metadata)) return [422, status(422, 'Invalid', 'the patched object is not a Node')];
    const next: JsonObject = structuredClone(old);
    const meta = next.metadata as JsonObject;
    meta.annotations = merged.metadata.annotations ?? {};
    meta.labels = merged.metadata.labels ?? {};
    // The status subresource keeps spec; the main resource keeps status (as the real server).
    if (sub === 'status') next.status = merged.status ?? {};
    else next.spec = merged.spec ?? {};
    if (JSON.stringify(next) === JSON.stringify(old)) return [200, old];
    return [200, this.#store('MODIFIED', next)];
  }

  #startWatch(req: IncomingMessage, res: ServerResponse, query: Record<string, string>): void {
    const gone = this.#goneNext.shift();
    if (gone === 'http') {
      const payload = JSON.stringify(status(410, 'Gone', 'too old resource version'));
      res.writeHead(410, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
      res.end(payload);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = query.resourceVersion ?? '';
    const rv = Number(from);
    if (gone === 'event' || (from !== '' && from !== '0' && (!Number.isInteger(rv) || rv < this.#minWatchRv))) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.#minWatchRv})`) })}\n`);
      return;
    }
    if (from === '' || from === '0') {
      for (const n of this.#nodes.values()) res.write(`${JSON.stringify({ type: 'ADDED', object: n })}\n`);
    } else {
      for (const ev of this.#history) if (ev.rv > rv) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
    }
    const w: OpenWatch = { res, socket: req.socket };
    this.#watches.add(w);
    const timeout = Number(query.timeoutSeconds);
    const timer = Number.isFinite(timeout) && timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.#watches.delete(w);
    });
  }
}
