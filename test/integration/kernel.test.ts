/**
 * NetlinkKernel against a real kernel, inside a throwaway network namespace. The kernel calls run
 * in a child (kernel-probe.ts) started with `ip netns exec`; the state is checked with iproute2.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Netns, deleteNamespaces, uniquePrefix } from '../harness/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const PROBE = join(ROOT, 'test/integration/kernel-probe.ts');

interface LinkJson {
  index: number;
  name: string;
  kind?: string;
  mtu: number;
  mac: string;
  up: boolean;
  vxlan?: { vni: number; local?: string; port: number; learning: boolean; gbp: boolean; link?: number };
}
interface EventJson {
  type: string;
  action?: string;
  route?: { dst: string; linkIndex?: number };
  link?: LinkJson;
}
interface ProbeFailure {
  name: string;
  code?: string;
  message: string;
}

class ProbeError extends Error {
  readonly code: string | undefined;
  readonly kind: string;
  constructor(f: ProbeFailure) {
    super(f.message);
    this.code = f.code;
    this.kind = f.name;
  }
}

/** A NetlinkKernel in a child process inside `ns`, called over JSON lines. */
class Probe {
  readonly events: EventJson[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<number | null>;
  private nextId = 1;

  constructor(ns: Netns, options: object = {}) {
    this.child = ns.spawn(process.execPath, ['--import', 'tsx', PROBE, JSON.stringify(options)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    const out = this.child.stdout;
    if (!out) throw new Error('probe has no stdout');
    createInterface({ input: out }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number; ok?: boolean; result?: unknown; error?: ProbeFailure; event?: EventJson };
      if (msg.event) this.events.push(msg.event);
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.result);
      else p?.reject(new ProbeError(msg.error ?? { name: 'Error', message: 'no error' }));
    });
    void this.exited.then((code) => {
      for (const p of this.pending.values()) p.reject(new Error(`probe exited (${code}): ${this.stderr.join('')}`));
      this.pending.clear();
    });
  }

  call<T = unknown>(op: string, args: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      this.child.stdin?.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async waitForEvent(match: (e: EventJson) => boolean, timeoutMs = 5000): Promise<EventJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(this.events.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<number | null> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

const VTEP_MAC = '0e:11:22:33:44:55';
const PEER_MAC = '0e:aa:bb:cc:dd:ee';

describe('NetlinkKernel in a network namespace', { skip: skipUnlessPrivileged(['ip', 'bridge']) }, () => {
  const prefix = uniquePrefix('fltk');
  let ns: Netns;
  let probe: Probe;
  let eth0: LinkJson;
  let vx: LinkJson;

  const ipJson = <T>(args: string[]): T => ns.ipJson<T>(args);
  const fdbJson = (): Array<{ mac: string; dst?: string; flags?: string[]; state?: string }> => {
    const out = ns.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1']).trim();
    return out === '' ? [] : (JSON.parse(out) as Array<{ mac: string; dst?: string; flags?: string[]; state?: string }>);
  };

  before(async () => {
    ns = Netns.create(`${prefix}-node`);
    // The underlay: a veth pair created inside the namespace (this kernel has no dummy links).
    ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    ns.exec('ip', ['addr', 'add', '192.0.2.11/24', 'dev', 'eth0']);
    ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    ns.exec('ip', ['link', 'set', 'eth0p', 'up']);
    ns.exec('ip', ['route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0']);
    probe = new Probe(ns);
    const found = await probe.call<LinkJson | null>('getLink', { name: 'eth0' });
    assert.ok(found, 'eth0 is visible to the probe');
    eth0 = found;
  });

  after(async () => {
    try {
      if (probe) await probe.stop();
    } finally {
      ns?.delete();
      deleteNamespaces(prefix);
    }
  });

  it('creates flannel.1 exactly as upstream flannel does', async () => {
    vx = await probe.call<LinkJson>('createVxlan', {
      name: 'flannel.1',
      vni: 1,
      port: 8472,
      local: '192.0.2.11',
      linkIndex: eth0.index,
      learning: false,
      gbp: false,
      mtu: 1450,
      mac: VTEP_MAC,
    });
    assert.deepEqual(vx.vxlan, { vni: 1, local: '192.0.2.11', port: 8472, learning: false, gbp: false, link: eth0.index });
    const [link] = ipJson<Array<{ mtu: number; address: string; linkinfo: { info_kind: string; info_data: Record<string, unknown> } }>>(['-d', 'link', 'show', 'flannel.1']);
    assert.ok(link);
    assert.equal(link.mtu, 1450);
    assert.equal(link.address, VTEP_MAC);
    assert.equal(link.linkinfo.info_kind, 'vxlan');
    const data = link.linkinfo.info_data;
    assert.equal(data.id, 1);
    assert.equal(data.local, '192.0.2.11');
    assert.equal(data.link, 'eth0');
    assert.equal(data.port, 8472);
    assert.equal(data.learning, false);
    assert.equal(data.gbp, undefined);
  });

  it('adds the /32 address and brings the link up', async () => {
    await probe.call('addAddr', { linkIndex: vx.index, ip: '10.244.1.0', prefix: 32 });
    await probe.call('setLinkUp', { link: 'flannel.1' });
    const [info] = ipJson<Array<{ flags: string[]; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(['addr', 'show', 'dev', 'flannel.1']);
    assert.ok(info?.flags.includes('UP'));
    assert.deepEqual(
      info?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      ['10.244.1.0/32'],
    );
    const addrs = await probe.call<Array<{ ip: string; prefix: number }>>('listAddrs', { linkIndex: vx.index, family: 4 });
    assert.deepEqual(addrs.map((a) => `${a.ip}/${a.prefix}`), ['10.244.1.0/32']);
  });

  it('programs a peer: permanent neighbour, self permanent FDB entry, onlink route', async () => {
    await Promise.all([
      probe.call('replaceNeighbor', { linkIndex: vx.index, ip: '10.244.2.0', mac: PEER_MAC }),
      probe.call('appendFdb', { linkIndex: vx.index, mac: PEER_MAC, dst: '192.0.2.12' }),
      probe.call('replaceRoute', { dst: '10.244.2.0/24', gateway: '10.244.2.0', linkIndex: vx.index, onlink: true }),
    ]);
    // Both are idempotent: a daemon re-applying state must not fail.
    await probe.call('appendFdb', { linkIndex: vx.index, mac: PEER_MAC, dst: '192.0.2.12' });
    await probe.call('replaceRoute', { dst: '10.244.2.0/24', gateway: '10.244.2.0', linkIndex: vx.index, onlink: true });

    assert.deepEqual(ipJson(['neigh', 'show', 'dev', 'flannel.1']), [{ dst: '10.244.2.0', lladdr: PEER_MAC, state: ['PERMANENT'] }]);
    assert.deepEqual(fdbJson(), [{ mac: PEER_MAC, dst: '192.0.2.12', flags: ['self'], state: 'permanent' }]);
    assert.deepEqual(ipJson(['route', 'show', 'dev', 'flannel.1']), [{ dst: '10.244.2.0/24', gateway: '10.244.2.0', flags: ['onlink'] }]);

    const neigh = await probe.call<Array<{ ip: string; mac: string; state: string }>>('listNeighbors', { linkIndex: vx.index, family: 4 });
    assert.deepEqual(neigh.map((n) => [n.ip, n.mac, n.state]), [['10.244.2.0', PEER_MAC, 'permanent']]);
    const fdb = await probe.call<Array<{ mac: string; dst: string; self: boolean; permanent: boolean }>>('listFdb', { linkIndex: vx.index });
    assert.deepEqual(fdb.map((e) => [e.mac, e.dst, e.self, e.permanent]), [[PEER_MAC, '192.0.2.12', true, true]]);
    const routes = await probe.call<Array<{ dst: string; gateway?: string; linkIndex?: number; onlink: boolean }>>('listRoutes', { family: 4 });
    assert.deepEqual(
      routes.filter((r) => r.linkIndex === vx.index).map((r) => [r.dst, r.gateway, r.onlink]),
      [['10.244.2.0/24', '10.244.2.0', true]],
    );
  });

  it('answers route get and finds the default-route interface', async () => {
    assert.deepEqual(await probe.call('routeGet', { ip: '10.244.2.9' }), { linkIndex: vx.index, src: '10.244.1.0', gateway: '10.244.2.0' });
    assert.deepEqual(await probe.call('routeGet', { ip: '198.51.100.7' }), { linkIndex: eth0.index, src: '192.0.2.11', gateway: '192.0.2.1' });
    const dflt = await probe.call<LinkJson | null>('defaultRouteLink', { family: 4 });
    assert.equal(dflt?.name, 'eth0');
    assert.equal(await probe.call('defaultRouteLink', { family: 6 }), null);
    await assert.rejects(probe.call('routeGet', { ip: 'fd00::1' }), { code: 'ENETUNREACH', message: 'get route to fd00::1: ENETUNREACH (Network is unreachable)' });
  });

  it('reports a route deleted by hand as a route del event', async () => {
    await probe.call('subscribe', { groups: ['route', 'link'] });
    ns.exec('ip', ['route', 'del', '10.244.2.0/24', 'dev', 'flannel.1']);
    const ev = await probe.waitForEvent((e) => e.type === 'route' && e.action === 'del' && e.route?.dst === '10.244.2.0/24');
    assert.equal(ev.route?.linkIndex, vx.index);
    ns.exec('ip', ['link', 'set', 'flannel.1', 'mtu', '1400']);
    const linkEv = await probe.waitForEvent((e) => e.type === 'link' && e.link?.name === 'flannel.1' && e.link.mtu === 1400);
    assert.equal(linkEv.action, 'new');
  });

  it('fails with a KernelError naming the operation and the object', async () => {
    await assert.rejects(probe.call('deleteLink', { link: 'nosuch0' }), (err: unknown) => {
      assert.ok(err instanceof ProbeError);
      assert.equal(err.kind, 'KernelError');
      assert.equal(err.code, 'ENODEV');
      assert.equal(err.message, 'delete link nosuch0: ENODEV (No such device)');
      return true;
    });
    await assert.rejects(probe.call('createVxlan', { name: 'flannel.1', vni: 1, port: 8472, learning: false, gbp: false }), {
      code: 'EEXIST',
      message: 'create link flannel.1: EEXIST (File exists)',
    });
    await assert.rejects(probe.call('deleteRoute', { dst: '10.99.0.0/16' }), { code: 'ESRCH', message: 'delete route 10.99.0.0/16: ESRCH (No such process)' });
    assert.equal(await probe.call('getLink', { name: 'nosuch0' }), null);
  });

  it('deletes what it programmed and the kernel agrees', async () => {
    await probe.call('replaceRoute', { dst: '10.244.2.0/24', gateway: '10.244.2.0', linkIndex: vx.index, onlink: true });
    await probe.call('deleteFdb', { linkIndex: vx.index, mac: PEER_MAC, dst: '192.0.2.12' });
    await probe.call('deleteNeighbor', { linkIndex: vx.index, ip: '10.244.2.0' });
    await probe.call('deleteRoute', { dst: '10.244.2.0/24' });
    await probe.call('delAddr', { linkIndex: vx.index, ip: '10.244.1.0', prefix: 32 });
    assert.deepEqual(fdbJson(), []);
    assert.deepEqual(ipJson(['neigh', 'show', 'dev', 'flannel.1']), []);
    assert.deepEqual(ipJson(['route', 'show', 'dev', 'flannel.1']), []);
    assert.deepEqual(ipJson<Array<{ addr_info: Array<{ family: string }> }>>(['addr', 'show', 'dev', 'flannel.1'])[0]?.addr_info.filter((a) => a.family === 'inet'), []);
    await probe.call('deleteLink', { link: 'flannel.1' });
    assert.throws(() => ns.exec('ip', ['link', 'show', 'flannel.1']), /does not exist/);
    await probe.waitForEvent((e) => e.type === 'link' && e.action === 'del' && e.link?.name === 'flannel.1');
  });

  it('replaces 1000 routes about as fast as ip -batch (timings printed)', async (t) => {
    const count = 1000;
    // A probe of its own: the main one subscribes to notifications, which paces requests and
    // prints every event.
    const quiet = new Probe(ns);
    const bench = (base: string): Promise<{ ms: number }> => quiet.call('benchRoutes', { base, gateway: '192.0.2.1', linkIndex: eth0.index, count });
    let cold: { ms: number };
    let fresh: { ms: number };
    let existing: { ms: number };
    try {
      // Warm up the JIT first: the daemon is long-running, so steady state is what matters.
      cold = await bench('10.96.0.0/12');
      await bench('10.96.0.0/12');
      fresh = await bench('10.128.0.0/9');
      existing = await bench('10.128.0.0/9');
    } finally {
      await quiet.stop();
    }

    const dir = mkdtempSync(join(tmpdir(), 'fltk-'));
    try {
      const batch = join(dir, 'routes.batch');
      writeFileSync(batch, Array.from({ length: count }, (_, i) => `route replace 10.${16 + (i >> 8)}.${i & 255}.0/24 via 192.0.2.1 dev eth0\n`).join(''));
      const t0 = performance.now();
      ns.exec('ip', ['-batch', batch]);
      const ipFresh = performance.now() - t0;
      const t1 = performance.now();
      ns.exec('ip', ['-batch', batch]);
      const ipExisting = performance.now() - t1;
      t.diagnostic(
        `1000 route replaces: flannel-ts ${fresh.ms.toFixed(1)} ms new / ${existing.ms.toFixed(1)} ms existing (cold process ${cold.ms.toFixed(1)} ms); ` +
          `ip -batch ${ipFresh.toFixed(1)} ms new / ${ipExisting.toFixed(1)} ms existing (including its process start)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const routes = ipJson<Array<{ dst: string }>>(['route', 'show', 'dev', 'eth0']);
    assert.equal(routes.filter((r) => r.dst.startsWith('10.') && Number(r.dst.split('.')[1]) >= 128).length, count);
    assert.ok(fresh.ms < 5000, `1000 route replaces took ${fresh.ms} ms`);
  });

  it('survives a notification storm with a small event buffer (netlink 0.3.0 aborts on overrun)', async () => {
    // 212992 is the kernel's default net.core.rmem_max: what a stock host grants.
    const small = new Probe(ns, { eventRecvBufferSize: 212992 });
    try {
      await small.call('subscribe', { groups: ['route', 'neigh'] });
      const count = 3000;
      await Promise.all([
        small.call('benchRoutes', { base: '10.64.0.0/10', gateway: '192.0.2.1', linkIndex: eth0.index, count }),
        small.call('benchNeighbors', { base: '10.200.0.0/16', linkIndex: eth0.index, mac: PEER_MAC, count }),
      ]);
      await small.waitForEvent(() => small.events.filter((e) => e.type === 'route' || e.type === 'neigh').length >= 2 * count, 10_000);
      assert.equal(small.events.filter((e) => e.type === 'overrun').length, 0);
    } finally {
      assert.equal(await small.stop(), 0, small.stderr.join(''));
    }
  });
});
