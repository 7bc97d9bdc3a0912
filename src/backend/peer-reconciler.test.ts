import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, type RouteSpec } from '../kernel/index.ts';
import type { Lease } from '../lease/index.ts';
import { createMemoryLogger } from '../log/index.ts';
import { PeerReconciler, type DataPlane, type PassSummary } from './peer-reconciler.ts';
import type { PeerBatch } from '../subnet/index.ts';
import { cidr, ip, peer } from './testing/fixtures.ts';

/** Routes `<subnet> via <PublicIP> dev eth0`; owns every gateway route on eth0. */
function routePlane(kernel: FakeKernel, eth0: number, prepare: () => Promise<void> = async () => {}): DataPlane {
  return {
    eventGroups: ['route'],
    prepare,
    plan: (lease) => ({ objects: lease.subnet && lease.attrs.publicIP ? [{ kind: 'route', route: { dst: lease.subnet, gateway: lease.attrs.publicIP, linkIndex: eth0 } }] : [], problems: [] }),
    listPresent: async (visit) => {
      for (const route of await kernel.listRoutes(4, { linkIndex: eth0 })) if (route.gateway) visit({ kind: 'route', route });
    },
    needsReconcile: () => false,
    linkName: (i) => (i === eth0 ? 'eth0' : `ifindex ${i}`),
  };
}

class GatedKernel extends FakeKernel {
  open!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  override async replaceRoute(route: RouteSpec): Promise<void> {
    await this.gate;
    return super.replaceRoute(route);
  }
}

const p = (n: number, publicIP = `192.0.2.${10 + n}`): Lease => peer({ subnet: `10.244.${n}.0/24`, publicIP, backendType: 'test' });

function passWaiter(): { onPass: (s: PassSummary) => void; passes: PassSummary[]; until: (pred: (s: PassSummary) => boolean) => Promise<void> } {
  const passes: PassSummary[] = [];
  let waiters: Array<{ pred: (s: PassSummary) => boolean; resolve: () => void }> = [];
  return {
    passes,
    onPass(s) {
      passes.push(s);
      const done = waiters.filter((w) => w.pred(s));
      waiters = waiters.filter((w) => !w.pred(s));
      done.forEach((w) => w.resolve());
    },
    until: (pred) => new Promise((resolve) => waiters.push({ pred, resolve })),
  };
}

/** A stream the test feeds by hand; records how many batches the consumer has pulled. */
function manualStream(): { stream: AsyncIterable<PeerBatch>; push(b: PeerBatch): void; end(): void; pulled: () => number } {
  const queue: Array<PeerBatch | null> = [];
  let wake: (() => void) | undefined;
  let pulled = 0;
  return {
    stream: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = queue.shift();
          if (next === null) return;
          if (next) {
            pulled++;
            yield next;
          } else await new Promise<void>((resolve) => (wake = resolve));
        }
      },
    },
    push(b) {
      queue.push(b);
      wake?.();
    },
    end() {
      queue.push(null);
      wake?.();
    },
    pulled: () => pulled,
  };
}

describe('PeerReconciler', () => {
  it('keeps consuming lease events while the kernel is busy, then applies them in a few batches', async () => {
    const kernel = new GatedKernel();
    const eth0 = kernel.addLink({ name: 'eth0', addrs: [{ ip: ip('192.0.2.1'), prefix: 24 }] }).index;
    const w = passWaiter();
    const r = new PeerReconciler(routePlane(kernel, eth0), { kernel, log: createMemoryLogger(), reconcileIntervalMs: 60_000, onPass: w.onPass });
    const s = manualStream();
    const ac = new AbortController();
    const done = r.run(s.stream, ac.signal);
    s.push({ events: [{ type: 'added', lease: p(1) }], snapshot: true });
    for (let n = 2; n <= 51; n++) s.push({ events: [{ type: 'added', lease: p(n) }], snapshot: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(s.pulled(), 51, 'the watch was not held up by the kernel');
    assert.equal(w.passes.length, 0);
    kernel.open();
    await w.until(() => r.peerCount === 51 && w.passes.reduce((n, x) => n + x.applied, 0) === 51);
    assert.ok(w.passes.length <= 2, `applied in ${w.passes.length} passes`);
    assert.equal((await kernel.listRoutes(4, { linkIndex: eth0 })).filter((x) => x.gateway).length, 51);
    s.end();
    ac.abort();
    await done;
  });

  it('touches nothing before the first snapshot', async () => {
    const kernel = new FakeKernel();
    const eth0 = kernel.addLink({ name: 'eth0', addrs: [{ ip: ip('192.0.2.1'), prefix: 24 }] }).index;
    await kernel.replaceRoute({ dst: cidr('10.244.9.0/24'), gateway: ip('192.0.2.9'), linkIndex: eth0 });
    const w = passWaiter();
    const r = new PeerReconciler(routePlane(kernel, eth0), { kernel, log: createMemoryLogger(), reconcileIntervalMs: 5, onPass: w.onPass });
    const s = manualStream();
    const ac = new AbortController();
    // A minute of periodic ticks (every 5 ms) on the mocked clock, and no snapshot yet.
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const done = r.run(s.stream, ac.signal);
    for (let i = 0; i < 600; i++) {
      mock.timers.tick(100);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    mock.timers.reset();
    assert.equal(w.passes.length, 0);
    assert.equal((await kernel.listRoutes(4, { linkIndex: eth0 })).filter((x) => x.gateway).length, 1);
    const first = w.until((x) => x.kind === 'full');
    s.push({ events: [], snapshot: true });
    await first;
    assert.equal((await kernel.listRoutes(4, { linkIndex: eth0 })).filter((x) => x.gateway).length, 0);
    ac.abort();
    s.end();
    await done;
  });

  it('keeps an object two peers want until the last of them goes', async () => {
    const kernel = new FakeKernel();
    const eth0 = kernel.addLink({ name: 'eth0', addrs: [{ ip: ip('192.0.2.1'), prefix: 24 }] }).index;
    const w = passWaiter();
    const plane = routePlane(kernel, eth0);
    // Both peers route one shared block (e.g. an anycast service range) besides their own.
    const shared = cidr('10.244.200.0/24');
    const base = plane.plan.bind(plane);
    plane.plan = (lease) => {
      const own = base(lease);
      const gw = lease.attrs.publicIP;
      return gw ? { objects: [...own.objects, { kind: 'route', route: { dst: shared, gateway: ip('192.0.2.254'), linkIndex: eth0 } }], problems: [] } : own;
    };
    const r = new PeerReconciler(plane, { kernel, log: createMemoryLogger(), reconcileIntervalMs: 60_000, onPass: w.onPass });
    const s = manualStream();
    const ac = new AbortController();
    const done = r.run(s.stream, ac.signal);
    const routes = async (): Promise<string[]> => (await kernel.listRoutes(4, { linkIndex: eth0 })).filter((x) => x.gateway).map((x) => x.dst.toString()).sort();
    let next = w.until(() => true);
    s.push({ events: [{ type: 'added', lease: p(1) }, { type: 'added', lease: p(2) }], snapshot: true });
    await next;
    assert.deepEqual(await routes(), ['10.244.1.0/24', '10.244.2.0/24', '10.244.200.0/24']);
    next = w.until(() => true);
    s.push({ events: [{ type: 'removed', lease: p(1) }], snapshot: false });
    await next;
    assert.deepEqual(await routes(), ['10.244.2.0/24', '10.244.200.0/24']);
    next = w.until(() => true);
    s.push({ events: [{ type: 'removed', lease: p(2) }], snapshot: false });
    await next;
    assert.deepEqual(await routes(), []);
    ac.abort();
    s.end();
    await done;
  });

  it('retries a full pass whose device preparation failed', async () => {
    const kernel = new FakeKernel();
    const eth0 = kernel.addLink({ name: 'eth0', addrs: [{ ip: ip('192.0.2.1'), prefix: 24 }] }).index;
    let calls = 0;
    const log = createMemoryLogger();
    const w = passWaiter();
    const plane = routePlane(kernel, eth0, async () => {
      if (++calls === 1) throw new Error('device is busy');
    });
    const r = new PeerReconciler(plane, { kernel, log, reconcileIntervalMs: 60_000, retryDelayMs: 5, onPass: w.onPass });
    const s = manualStream();
    const ac = new AbortController();
    const done = r.run(s.stream, ac.signal);
    const ok = w.until((x) => x.kind === 'full' && x.failed === 0);
    s.push({ events: [{ type: 'added', lease: p(1) }], snapshot: true });
    await ok;
    assert.equal(calls, 2);
    assert.ok(log.lines.some((l) => l.level === 'error' && l.msg === 'reconciling peers failed, retrying: device is busy'));
    assert.equal((await kernel.listRoutes(4, { linkIndex: eth0 })).filter((x) => x.gateway).length, 1);
    ac.abort();
    s.end();
    await done;
  });

  it('ends when the stream ends and rejects when it fails', async () => {
    const kernel = new FakeKernel();
    const eth0 = kernel.addLink({ name: 'eth0' }).index;
    const r = new PeerReconciler(routePlane(kernel, eth0), { kernel, log: createMemoryLogger(), reconcileIntervalMs: 60_000 });
    const s = manualStream();
    s.end();
    await r.run(s.stream, new AbortController().signal);
    const failing: AsyncIterable<PeerBatch> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('etcd gone')) }),
    };
    await assert.rejects(new PeerReconciler(routePlane(kernel, eth0), { kernel, log: createMemoryLogger(), reconcileIntervalMs: 60_000 }).run(failing, new AbortController().signal), /etcd gone/);
  });
});
