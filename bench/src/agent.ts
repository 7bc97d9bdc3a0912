/**
 * The benchmark agent: one process started inside a lab namespace (`ip netns exec <ns> node
 * --import tsx bench/src/agent.ts`), so what it measures is that namespace's kernel, its clock is
 * the same for the etcd put and the route notification, and nothing runs in the root namespace.
 * Protocol: one JSON request per stdin line ({ id, cmd, ... }); answers on stdout, one JSON line
 * each: { id, type: 'progress' | 'result' | 'error', ... }.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { isPeerRoute, NetlinkCounter, parsePrefix4, watchNeighbors, watchRoutes, type RouteFilter } from './netlink-count.ts';

export interface FakeLease {
  readonly key: string;
  readonly value: string;
  /** The peer's subnet ("10.1.2.0/24"), whose route the lease-latency test waits for. */
  readonly dst: string;
}

export type AgentRequest =
  | { id: number; cmd: 'ping' }
  | { id: number; cmd: 'writeLeases'; endpoints: string[]; leases: FakeLease[]; ttlSeconds: number; concurrency: number }
  | { id: number; cmd: 'revokeLeases'; endpoints: string[]; leaseIds: string[]; concurrency: number }
  | { id: number; cmd: 'converge'; mode: 'vxlan' | 'host-gw'; vtep: string; ext: string; network: string; expect: number; timeoutMs: number; pollGapMs: number }
  | { id: number; cmd: 'counts'; mode: 'vxlan' | 'host-gw'; vtep: string; ext: string; network: string }
  | { id: number; cmd: 'leaseLatency'; endpoints: string[]; leases: FakeLease[]; ttlSeconds: number; gapMs: [number, number]; timeoutMs: number }
  | { id: number; cmd: 'cni'; flannel: string; delegate: string; conf: string; dataDir: string; cniPath: string; netns: string[]; pods: number; warmup: number; idPrefix: string };

export interface ConvergeResult {
  /** Wall-clock ms (performance.timeOrigin based) of the poll that first saw a peer object, and of the poll before it. */
  firstSeenAt: number;
  firstNotBefore: number;
  /** Wall-clock ms of the end of the poll that saw everything, and of the start of the last poll that did not. */
  completeAt: number;
  completeNotBefore: number;
  polls: number;
  counts: Counts;
  timedOut: boolean;
}

export interface Counts {
  routes: number;
  neighbors: number;
  fdb: number;
}

export interface LeaseLatencySample {
  dst: string;
  /** put issued → route notification, ms. */
  routeMs: number | null;
  /** put issued → put answered, ms. */
  putMs: number;
  /** Wall-clock ms when the put was issued. */
  at: number;
}

export interface CniSample {
  addMs: number;
  delMs: number;
  floorAddMs: number;
  floorDelMs: number;
}

const wall = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function send(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

let counter: NetlinkCounter | undefined;
const kernel = (): NetlinkCounter => (counter ??= new NetlinkCounter());

function linkIndex(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

async function counts(mode: 'vxlan' | 'host-gw', vtep: string, ext: string, network: string): Promise<Counts> {
  const net = parsePrefix4(network);
  if (mode === 'host-gw') {
    const idx = linkIndex(ext);
    return { routes: idx === undefined ? 0 : await kernel().countRoutes({ linkIndex: idx, network: net, needGateway: true }), neighbors: 0, fdb: 0 };
  }
  const idx = linkIndex(vtep);
  if (idx === undefined) return { routes: 0, neighbors: 0, fdb: 0 };
  return {
    routes: await kernel().countRoutes({ linkIndex: idx, network: net, needGateway: false }),
    neighbors: await kernel().countNeighbors(idx),
    fdb: await kernel().countFdb(idx),
  };
}

/**
 * Waits until every peer object is in the kernel, from notifications rather than dumps (dumping
 * 5000 routes every few ms would compete with flanneld for the CPU): the first object is the
 * first permanent neighbour on the VTEP (vxlan; flanneld programs neighbours and FDB entries
 * before routes) or the first peer route (host-gw); completion is the notification that brings
 * the peer routes to `expect`. Then dumps confirm routes, neighbours and FDB entries; if they fall
 * short, polling continues and completion moves to when they are all there.
 */
async function converge(r: Extract<AgentRequest, { cmd: 'converge' }>, progress: () => void): Promise<ConvergeResult> {
  const net = parsePrefix4(r.network);
  const hr0 = process.hrtime.bigint();
  const wall0 = wall();
  const toWall = (ns: bigint): number => wall0 + Number(ns - hr0) / 1e6;
  const link = r.mode === 'vxlan' ? r.vtep : r.ext;
  let index: number | undefined;
  const filter = (): RouteFilter | undefined => {
    index ??= linkIndex(link);
    return index === undefined ? undefined : { linkIndex: index, network: net, needGateway: r.mode === 'host-gw' };
  };
  const routes = new Set<string>();
  let firstAt: number | undefined;
  let completeAt: number | undefined;
  let wake: (() => void) | undefined;
  const stopRoutes = watchRoutes((e, at) => {
    const f = filter();
    if (!f || !isPeerRoute(e, f)) return;
    if (e.action === 'del') {
      routes.delete(e.dst);
      return;
    }
    routes.add(e.dst);
    if (r.mode === 'host-gw') firstAt ??= toWall(at);
    if (completeAt === undefined && routes.size >= r.expect) {
      completeAt = toWall(at);
      wake?.();
    }
  });
  const stopNeighbors =
    r.mode === 'vxlan'
      ? watchNeighbors((idx, at) => {
          index ??= linkIndex(link);
          if (firstAt !== undefined || idx !== index) return;
          firstAt = toWall(at);
          setImmediate(() => stopNeighbors?.());
        })
      : undefined;
  const deadline = wall() + r.timeoutMs;
  let polls = 0;
  try {
    progress();
    if (r.expect === 0) return { firstSeenAt: wall(), firstNotBefore: wall(), completeAt: wall(), completeNotBefore: wall(), polls, counts: await counts(r.mode, r.vtep, r.ext, r.network), timedOut: false };
    while (completeAt === undefined && wall() < deadline) {
      await new Promise<void>((res) => {
        wake = res;
        setTimeout(res, 250);
      });
    }
    // Confirm with dumps (and keep polling if the neighbour or FDB entries are not all there yet).
    for (;;) {
      polls++;
      const c = await counts(r.mode, r.vtep, r.ext, r.network);
      const done = c.routes >= r.expect && (r.mode === 'host-gw' || (c.neighbors >= r.expect && c.fdb >= r.expect));
      if (done) {
        if (completeAt === undefined) completeAt = wall(); // notifications missed (e.g. a re-created device)
        const f = firstAt ?? completeAt;
        return { firstSeenAt: f, firstNotBefore: f, completeAt, completeNotBefore: completeAt, polls, counts: c, timedOut: false };
      }
      if (wall() > deadline) return { firstSeenAt: firstAt ?? 0, firstNotBefore: firstAt ?? 0, completeAt: 0, completeNotBefore: 0, polls, counts: c, timedOut: true };
      completeAt = undefined;
      await sleep(r.pollGapMs);
    }
  } finally {
    stopRoutes();
    stopNeighbors?.();
  }
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

const clients = new Map<string, Etcd3>();
function etcd(endpoints: string[]): Etcd3 {
  const key = endpoints.join(',');
  let c = clients.get(key);
  if (!c) {
    c = new Etcd3({ hosts: endpoints });
    clients.set(key, c);
  }
  return c;
}

/** Each fake peer gets its own etcd lease, as a real node does: flanneld looks up one TTL per lease. */
async function writeLeases(r: Extract<AgentRequest, { cmd: 'writeLeases' }>): Promise<{ leaseIds: string[]; ms: number }> {
  const c = etcd(r.endpoints);
  const ids: string[] = new Array<string>(r.leases.length);
  const t0 = wall();
  await pool(r.leases, r.concurrency, async (l, i) => {
    const grant = await c.leaseClient.leaseGrant({ TTL: r.ttlSeconds });
    ids[i] = String(grant.ID);
    await c.kv.put({ key: Buffer.from(l.key), value: Buffer.from(l.value), lease: grant.ID });
  });
  return { leaseIds: ids, ms: wall() - t0 };
}

async function revokeLeases(r: Extract<AgentRequest, { cmd: 'revokeLeases' }>): Promise<{ ms: number }> {
  const c = etcd(r.endpoints);
  const t0 = wall();
  await pool(r.leaseIds, r.concurrency, async (id) => {
    try {
      await c.leaseClient.leaseRevoke({ ID: id });
    } catch {
      /* already gone */
    }
  });
  return { ms: wall() - t0 };
}

/** One lease at a time: grant (untimed), put, and time until the route notification for its subnet. */
async function leaseLatency(r: Extract<AgentRequest, { cmd: 'leaseLatency' }>): Promise<{ samples: LeaseLatencySample[]; leaseIds: string[] }> {
  const c = etcd(r.endpoints);
  const waiting = new Map<string, (atNs: bigint) => void>();
  const stop = watchRoutes((e, at) => {
    if (e.action === 'new') waiting.get(e.dst)?.(at);
  });
  const samples: LeaseLatencySample[] = [];
  const leaseIds: string[] = [];
  try {
    for (const l of r.leases) {
      const grant = await c.leaseClient.leaseGrant({ TTL: r.ttlSeconds });
      leaseIds.push(String(grant.ID));
      let timer: NodeJS.Timeout | undefined;
      const routed = new Promise<bigint | null>((resolve) => {
        waiting.set(l.dst, resolve);
        timer = setTimeout(() => resolve(null), r.timeoutMs);
      });
      const at = wall();
      const t0 = process.hrtime.bigint();
      await c.kv.put({ key: Buffer.from(l.key), value: Buffer.from(l.value), lease: grant.ID });
      const putMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const routedAt = await routed;
      clearTimeout(timer);
      waiting.delete(l.dst);
      samples.push({ dst: l.dst, routeMs: routedAt === null ? null : Number(routedAt - t0) / 1e6, putMs, at });
      const [lo, hi] = r.gapMs;
      await sleep(lo + Math.random() * (hi - lo));
    }
  } finally {
    stop();
  }
  return { samples, leaseIds };
}

function runCni(path: string, command: 'ADD' | 'DEL', stdin: string, env: Record<string, string>): number {
  const t0 = process.hrtime.bigint();
  const res = spawnSync(path, [], { input: stdin, env: { ...env, CNI_COMMAND: command }, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.status !== 0) throw new Error(`${path} ${command} failed (status ${res.status}): ${res.stdout.trim() || res.stderr.trim() || res.error?.message}`);
  return ms;
}

/**
 * Per pod: the flannel plugin's ADD (which runs bridge + host-local), its DEL, then the same
 * delegate configuration flannel saved, given to bridge directly (ADD, DEL): the delegate-only floor.
 */
function cni(r: Extract<AgentRequest, { cmd: 'cni' }>): { samples: CniSample[] } {
  const samples: CniSample[] = [];
  const total = r.warmup + r.pods;
  for (let i = 0; i < total; i++) {
    const netns = r.netns[i % r.netns.length] as string;
    const containerId = `${r.idPrefix}${String(i).padStart(4, '0')}`;
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: r.cniPath };
    const addMs = runCni(r.flannel, 'ADD', r.conf, env);
    const saved = readFileSync(`${r.dataDir}/${containerId}`, 'utf8');
    const delMs = runCni(r.flannel, 'DEL', r.conf, env);
    const floorAddMs = runCni(r.delegate, 'ADD', saved, env);
    const floorDelMs = runCni(r.delegate, 'DEL', saved, env);
    if (i >= r.warmup) samples.push({ addMs, delMs, floorAddMs, floorDelMs });
  }
  return { samples };
}

async function handle(req: AgentRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'ping':
      return { pid: process.pid, now: wall() };
    case 'writeLeases':
      return await writeLeases(req);
    case 'revokeLeases':
      return await revokeLeases(req);
    case 'converge':
      return await converge(req, () => send({ id: req.id, type: 'progress', polling: true, at: wall() }));
    case 'counts':
      return await counts(req.mode, req.vtep, req.ext, req.network);
    case 'leaseLatency':
      return await leaseLatency(req);
    case 'cni':
      return cni(req);
  }
}

function main(): void {
  const rl = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const req = JSON.parse(line) as AgentRequest;
    // One request at a time, in order: measurements must not overlap.
    chain = chain.then(async () => {
      try {
        send({ id: req.id, type: 'result', result: await handle(req) });
      } catch (err) {
        send({ id: req.id, type: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    });
  });
  rl.on('close', () => {
    void chain.then(() => {
      counter?.close();
      for (const c of clients.values()) c.close();
      process.exit(0);
    });
  });
  send({ id: 0, type: 'result', result: { ready: true, pid: process.pid } });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolvePath(process.argv[1])) main();
