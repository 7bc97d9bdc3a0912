/**
 * EtcdSubnetManager against a real etcd (Debian's 3.4) on loopback: no root needed. Each test
 * works under its own key prefix; the recovery tests get their own etcd since they restart or
 * compact it.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseNetworkConfig, type NetworkConfig } from '../../src/config/index.ts';
import { DatastoreError, LeaseError } from '../../src/errors/index.ts';
import { Cidr, IPAddress } from '../../src/ip/index.ts';
import { LeaseWatcher, type Lease, type LeaseAttrs, type LeaseEvent } from '../../src/lease/index.ts';
import { createMemoryLogger, type MemoryLogger } from '../../src/log/index.ts';
import { EtcdRegistry, EtcdSubnetManager, type EtcdSubnetManagerOptions, type Registry, type WatchBatch } from '../../src/subnet/etcd/index.ts';
import { skipUnlessEtcd, etcdctl, startEtcd, type EtcdHandle } from '../harness/etcd.ts';

const skip = skipUnlessEtcd('etcd integration tests');

const VXLAN = { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' };
const attrs = (ip: string, extra: Partial<LeaseAttrs> = {}): LeaseAttrs => ({
  publicIP: IPAddress.parse(ip),
  backendType: 'vxlan',
  backendData: VXLAN,
  ...extra,
});
const conf = (json: object): NetworkConfig => parseNetworkConfig(JSON.stringify({ Backend: { Type: 'vxlan' }, ...json }));
const newPrefix = (): string => `/flt-${randomBytes(4).toString('hex')}/network`;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const subnetOf = (l: Lease): string => [l.subnet, l.ipv6Subnet].filter(Boolean).map(String).join('&');

/** Parses etcdctl's JSON without losing int64 precision (lease ids, revisions). */
function int64Field(json: string, field: string): bigint | undefined {
  const m = new RegExp(`"${field}":(\\d+)`).exec(json);
  return m ? BigInt(m[1] as string) : undefined;
}

async function leaseIdOf(etcd: EtcdHandle, key: string): Promise<bigint> {
  const out = await etcdctl(etcd.endpoint, ['get', key, '-w', 'json']);
  return int64Field(out, 'lease') ?? 0n;
}

/** [granted TTL, remaining] in seconds, or undefined when the lease is gone. */
async function leaseTTL(etcd: EtcdHandle, id: bigint): Promise<[number, number] | undefined> {
  const out = await etcdctl(etcd.endpoint, ['lease', 'timetolive', id.toString(16)]);
  const m = /granted with TTL\((\d+)s\), remaining\((-?\d+)s\)/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

async function currentRevision(etcd: EtcdHandle): Promise<bigint> {
  return int64Field(await etcdctl(etcd.endpoint, ['get', '/', '-w', 'json']), 'revision') ?? 0n;
}

async function keysUnder(etcd: EtcdHandle, prefix: string): Promise<string[]> {
  const out = await etcdctl(etcd.endpoint, ['get', '--prefix', `${prefix}/subnets/`, '--keys-only']);
  return out.split('\n').filter((l) => l !== '');
}

/** Runs cleanups newest first; one that fails or hangs (5 s) does not stop the others. */
async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }
}

/** Follows watchLeases through a LeaseWatcher, as the daemon does. */
class Observer {
  readonly watcher: LeaseWatcher;
  readonly events: LeaseEvent[] = [];
  snapshots = 0;
  readonly #ac = new AbortController();
  readonly done: Promise<void>;

  constructor(manager: EtcdSubnetManager, own?: Lease) {
    const watcher = new LeaseWatcher(own);
    this.watcher = watcher;
    this.done = (async () => {
      for await (const r of manager.watchLeases(this.#ac.signal)) {
        if (r.kind === 'snapshot') {
          this.snapshots++;
          this.events.push(...watcher.reset(r.leases));
        } else {
          this.events.push(...watcher.update(r.events));
        }
      }
    })();
  }

  peers(): string[] {
    return this.watcher.peers.map(subnetOf).sort();
  }

  async waitFor(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
    const start = Date.now();
    while (!pred()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; peers: ${this.peers().join(', ')}`);
      await delay(20);
    }
    return Date.now() - start;
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await this.done;
  }
}

describe('EtcdSubnetManager against etcd', { skip }, () => {
  let etcd: EtcdHandle;
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    etcd = await startEtcd();
  });
  afterEach(async () => {
    await runCleanups(cleanups);
  });
  after(async () => {
    await etcd?.stop();
  });

  const signal = (): AbortSignal => AbortSignal.timeout(20_000);
  const manager = (prefix: string, extra: Partial<EtcdSubnetManagerOptions> = {}): EtcdSubnetManager => {
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, leaseTTLSeconds: 60, retry: { initialMs: 100, maxMs: 1000 }, ...extra });
    cleanups.push(() => m.close());
    return m;
  };
  const observe = (m: EtcdSubnetManager, own?: Lease): Observer => {
    const o = new Observer(m, own);
    cleanups.push(() => o.stop());
    return o;
  };

  it('writes the first lease inside [SubnetMin, SubnetMax] with upstream key, JSON value and TTL', async () => {
    const prefix = newPrefix();
    await etcdctl(etcd.endpoint, ['put', `${prefix}/config`, '{"Network":"10.5.0.0/16","SubnetMin":"10.5.10.0","SubnetMax":"10.5.20.0","Backend":{"Type":"vxlan"}}']);
    const m = manager(prefix, { leaseTTLSeconds: 30 });
    const config = await m.getNetworkConfig(signal());
    const before = Date.now();
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.64.3'), signal: signal() });

    assert.ok(lease.subnet);
    assert.equal(lease.subnet.prefix, 24);
    assert.ok(lease.subnet.ip.compare(IPAddress.parse('10.5.10.0')) >= 0 && lease.subnet.ip.compare(IPAddress.parse('10.5.20.0')) <= 0, String(lease.subnet));
    const key = `${prefix}/subnets/${lease.subnet.ip.toString()}-24`;
    assert.deepEqual(await keysUnder(etcd, prefix), [key]);
    const raw = await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']);
    assert.equal(raw.trimEnd(), '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}');

    const ttl = await leaseTTL(etcd, await leaseIdOf(etcd, key));
    assert.ok(ttl, 'the key must hang on an etcd lease');
    assert.equal(ttl[0], 30);
    assert.ok(ttl[1] >= 27 && ttl[1] <= 30, `remaining ${ttl[1]}`);
    assert.ok(lease.expiration && Math.abs(lease.expiration.getTime() - (before + 30_000)) < 3000);
    assert.match(lease.revision ?? '', /^\d+$/);
  });

  it('writes a dual-stack key and value as upstream does', async () => {
    const prefix = newPrefix();
    const m = manager(prefix);
    const config = conf({ Network: '10.12.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:12::/56' });
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.64.4', { publicIPv6: IPAddress.parse('fd00:1::4') }), signal: signal() });
    assert.ok(lease.subnet && lease.ipv6Subnet);
    const index = (lease.subnet.ip.value - IPAddress.parse('10.12.0.0').value) >> 8n;
    assert.equal(lease.ipv6Subnet.ip.value - IPAddress.parse('fd00:12::').value, index << 64n, 'lockstep');
    const key = `${prefix}/subnets/${lease.subnet.ip.toString()}-24&${lease.ipv6Subnet.ip.toString()}-64`;
    assert.deepEqual(await keysUnder(etcd, prefix), [key]);
    const raw = await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']);
    assert.equal(raw.trimEnd(), '{"PublicIP":"192.168.64.4","PublicIPv6":"fd00:1::4","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}');
  });

  it('gives 20 nodes acquiring at once 20 distinct subnets', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.6.0.0/16' });
    const leases = await Promise.all(
      Array.from({ length: 20 }, (_, i) => manager(prefix).acquireLease({ config, attrs: attrs(`192.168.1.${i + 1}`), signal: signal() })),
    );
    const subnets = new Set(leases.map(subnetOf));
    assert.equal(subnets.size, 20);
    assert.equal((await keysUnder(etcd, prefix)).length, 20);
  });

  it('retries a lost race: nodes that all choose the same subnet still end up distinct', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.16.0.0/16' });
    const log = createMemoryLogger();
    const leases = await Promise.all(
      [1, 2, 3].map((i) => manager(prefix, { log, random: () => 0 }).acquireLease({ config, attrs: attrs(`192.168.11.${i}`), signal: signal() })),
    );
    assert.deepEqual(leases.map(subnetOf).sort(), ['10.16.1.0/24', '10.16.2.0/24', '10.16.3.0/24']);
    assert.ok(log.lines.some((l) => /another node wrote the subnet we chose first/.test(l.msg)), 'a race was lost and retried');
  });

  it('gives up with E_LEASE_RACE after 10 lost races, leaving no etcd lease behind', async () => {
    const prefix = newPrefix();
    const real = new EtcdRegistry({ endpoints: [etcd.endpoint] });
    cleanups.push(() => real.close());
    let puts = 0;
    const alwaysLoses = new Proxy<Registry>(real, {
      get: (target, prop) => {
        if (prop === 'putIf') {
          return async () => {
            puts++;
            return { ok: false, revision: '0' };
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const leases = await etcdctl(etcd.endpoint, ['lease', 'list']);
    const m = manager(prefix, { registry: alwaysLoses });
    await assert.rejects(m.acquireLease({ config: conf({ Network: '10.17.0.0/16' }), attrs: attrs('192.168.12.1'), signal: signal() }), { code: 'E_LEASE_RACE' });
    assert.equal(puts, 10);
    assert.equal(await etcdctl(etcd.endpoint, ['lease', 'list']), leases, 'every granted etcd lease was revoked');
  });

  it('re-acquires the same subnet for the same PublicIP, on a fresh etcd lease', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.7.0.0/16' });
    const first = await manager(prefix).acquireLease({ config, attrs: attrs('192.168.2.1'), signal: signal() });
    const key = `${prefix}/subnets/${first.subnet?.ip.toString()}-24`;
    const oldLeaseId = await leaseIdOf(etcd, key);
    const again = await manager(prefix).acquireLease({ config, attrs: attrs('192.168.2.1', { backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }), signal: signal() });
    assert.equal(subnetOf(again), subnetOf(first));
    assert.deepEqual(await keysUnder(etcd, prefix), [key]);
    assert.notEqual(await leaseIdOf(etcd, key), oldLeaseId);
    assert.equal(await leaseTTL(etcd, oldLeaseId), undefined, 'the old etcd lease is revoked');
    assert.match(await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']), /aa:bb:cc:dd:ee:ff/);
  });

  it('honours hints.previous when free, and never takes one another node holds', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.7.0.0/16' });
    const previous = { v4: Cidr.parse('10.7.42.0/24') };
    const a = await manager(prefix).acquireLease({ config, attrs: attrs('192.168.3.1'), hints: { previous }, signal: signal() });
    assert.equal(subnetOf(a), '10.7.42.0/24');

    const log = createMemoryLogger();
    const b = await manager(prefix, { log }).acquireLease({ config, attrs: attrs('192.168.3.2'), hints: { previous }, signal: signal() });
    assert.notEqual(subnetOf(b), '10.7.42.0/24');
    assert.match(await etcdctl(etcd.endpoint, ['get', `${prefix}/subnets/10.7.42.0-24`, '--print-value-only']), /"PublicIP":"192.168.3.1"/);
    assert.ok(log.lines.some((l) => l.level === 'warn' && /10\.7\.42\.0\/24.*held by node 192\.168\.3\.1/.test(l.msg)));

    const outside = await manager(prefix).acquireLease({ config, attrs: attrs('192.168.3.3'), hints: { previous: { v4: Cidr.parse('10.8.1.0/24') } }, signal: signal() });
    assert.ok(config.v4?.network.containsCidr(outside.subnet as Cidr));
  });

  it('never hands a reservation to another node, and gives it to the node it names', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.10.0.0/28', SubnetLen: 30 });
    const reserved = `${prefix}/subnets/10.10.0.8-30`;
    await etcdctl(etcd.endpoint, ['put', reserved, '{"PublicIP":"192.168.9.9","PublicIPv6":null,"BackendType":"vxlan"}']);
    const others = [
      await manager(prefix).acquireLease({ config, attrs: attrs('192.168.4.1'), signal: signal() }),
      await manager(prefix).acquireLease({ config, attrs: attrs('192.168.4.2'), signal: signal() }),
    ];
    assert.deepEqual(others.map(subnetOf).sort(), ['10.10.0.12/30', '10.10.0.4/30']);
    await assert.rejects(manager(prefix).acquireLease({ config, attrs: attrs('192.168.4.3'), signal: signal() }), { code: 'E_POOL_EXHAUSTED' });

    const m = manager(prefix);
    const owner = await m.acquireLease({ config, attrs: attrs('192.168.9.9'), signal: signal() });
    assert.equal(subnetOf(owner), '10.10.0.8/30');
    assert.equal(owner.expiration, undefined, 'a reservation does not expire');
    assert.equal(await leaseIdOf(etcd, reserved), 0n, 'still a reservation: no etcd lease');
    assert.match(await etcdctl(etcd.endpoint, ['get', reserved, '--print-value-only']), /"BackendData":\{"VNI":1/);
    assert.deepEqual(await m.renewLease(owner, signal()), owner, 'renewing a reservation changes nothing');
    assert.equal(await leaseIdOf(etcd, reserved), 0n);
  });

  it('hands out exactly 3 subnets of 10.10.0.0/28 at SubnetLen 30, then E_POOL_EXHAUSTED writing nothing', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.10.0.0/28', SubnetLen: 30 });
    const got: string[] = [];
    for (let i = 1; i <= 3; i++) got.push(subnetOf(await manager(prefix).acquireLease({ config, attrs: attrs(`192.168.5.${i}`), signal: signal() })));
    assert.deepEqual(got.sort(), ['10.10.0.12/30', '10.10.0.4/30', '10.10.0.8/30']);

    const revision = await currentRevision(etcd);
    const leases = await etcdctl(etcd.endpoint, ['lease', 'list']);
    await assert.rejects(manager(prefix).acquireLease({ config, attrs: attrs('192.168.5.4'), signal: signal() }), (err: unknown) => {
      assert.ok(err instanceof LeaseError);
      assert.equal(err.code, 'E_POOL_EXHAUSTED');
      assert.match(err.message, /10\.10\.0\.0\/28 with SubnetLen 30 .*10\.10\.0\.4 .*10\.10\.0\.12.*3 leases exist/);
      assert.match(err.hint ?? '', new RegExp(`etcdctl del ${prefix}/subnets/<key>`));
      return true;
    });
    assert.equal(await currentRevision(etcd), revision, 'no write');
    assert.equal(await etcdctl(etcd.endpoint, ['lease', 'list']), leases, 'no etcd lease granted');
  });

  it('reports a peer joining and leaving to another node within 2 s', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.13.0.0/16' });
    const a = manager(prefix);
    const own = await a.acquireLease({ config, attrs: attrs('192.168.6.1'), signal: signal() });
    const obs = observe(a, own);
    await obs.waitFor('first snapshot', () => obs.snapshots === 1, 5000);
    assert.deepEqual(obs.peers(), []);

    const b = await manager(prefix).acquireLease({ config, attrs: attrs('192.168.6.2'), signal: signal() });
    const addedMs = await obs.waitFor('added', () => obs.events.some((e) => e.type === 'added' && subnetOf(e.lease) === subnetOf(b)), 2000);
    const added = obs.events.find((e) => e.type === 'added');
    assert.equal(added?.lease.attrs.publicIP?.toString(), '192.168.6.2');
    assert.deepEqual(added?.lease.attrs.backendData, VXLAN);
    assert.ok(added?.lease.expiration, 'a lease with a TTL has an expiration');

    await etcdctl(etcd.endpoint, ['del', `${prefix}/subnets/${b.subnet?.ip.toString()}-24`]);
    const removedMs = await obs.waitFor('removed', () => obs.events.some((e) => e.type === 'removed'), 2000);
    const removed = obs.events.find((e) => e.type === 'removed');
    assert.equal(subnetOf(removed?.lease as Lease), subnetOf(b));
    assert.equal(removed?.lease.attrs.publicIP?.toString(), '192.168.6.2', 'the removed lease carries the last attributes');
    assert.deepEqual(obs.peers(), []);
    assert.equal(obs.snapshots, 1);
    assert.ok(addedMs < 2000 && removedMs < 2000);
  });

  it('lets an unrenewed short lease expire, and reports it removed', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.14.0.0/16' });
    const a = manager(prefix);
    const own = await a.acquireLease({ config, attrs: attrs('192.168.7.1'), signal: signal() });
    const obs = observe(a, own);
    const short = await manager(prefix, { leaseTTLSeconds: 2 }).acquireLease({ config, attrs: attrs('192.168.7.2'), signal: signal() });
    await obs.waitFor('added', () => obs.peers().includes(subnetOf(short)), 2000);
    await obs.waitFor('expiry', () => obs.events.some((e) => e.type === 'removed' && subnetOf(e.lease) === subnetOf(short)), 8000);
    assert.deepEqual(await keysUnder(etcd, prefix), [`${prefix}/subnets/${own.subnet?.ip.toString()}-24`]);
  });

  it('renews onto a fresh etcd lease with the same value, re-creates a vanished key, and reports a taken one', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.15.0.0/16' });
    const m = manager(prefix, { leaseTTLSeconds: 30 });
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.8.1'), signal: signal() });
    const key = `${prefix}/subnets/${lease.subnet?.ip.toString()}-24`;
    const value = await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']);
    const oldId = await leaseIdOf(etcd, key);
    await delay(2100);
    const before = await leaseTTL(etcd, oldId);
    assert.ok(before && before[1] <= 28, `remaining ${before?.[1]}`);

    const renewed = await m.renewLease(lease, signal());
    const newId = await leaseIdOf(etcd, key);
    assert.notEqual(newId, oldId);
    assert.equal(await leaseTTL(etcd, oldId), undefined, 'old etcd lease revoked');
    const after = await leaseTTL(etcd, newId);
    // Granted afresh with the full TTL; what remains depends on how long etcdctl took on this machine.
    assert.ok(after && after[0] === 30 && after[1] >= 20, `new lease ${after}`);
    assert.equal(await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']), value);
    assert.ok((renewed.expiration?.getTime() ?? 0) > (lease.expiration?.getTime() ?? 0));
    assert.equal(subnetOf(renewed), subnetOf(lease));

    await etcdctl(etcd.endpoint, ['del', key]);
    const recreated = await m.renewLease(renewed, signal());
    assert.equal(await etcdctl(etcd.endpoint, ['get', key, '--print-value-only']), value);
    assert.ok((await leaseIdOf(etcd, key)) !== 0n);

    await etcdctl(etcd.endpoint, ['put', key, '{"PublicIP":"192.168.8.99","PublicIPv6":null,"BackendType":"vxlan"}']);
    await assert.rejects(m.renewLease(recreated, signal()), (err: unknown) => {
      assert.ok(err instanceof LeaseError);
      assert.equal(err.code, 'E_LEASE_LOST');
      assert.match(err.message, /192\.168\.8\.99/);
      return true;
    });
  });

  it('skips a malformed entry with a warning and never reuses its subnet', async () => {
    const prefix = newPrefix();
    const config = conf({ Network: '10.11.0.0/16', SubnetMin: '10.11.1.0', SubnetMax: '10.11.2.0' });
    await etcdctl(etcd.endpoint, ['put', `${prefix}/subnets/10.11.1.0-24`, 'not json']);
    await etcdctl(etcd.endpoint, ['put', `${prefix}/subnets/garbage`, '{}']);
    const log = createMemoryLogger();
    const m = manager(prefix, { log, random: () => 0 });
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.10.1'), signal: signal() });
    assert.equal(subnetOf(lease), '10.11.2.0/24');
    const warned = (l: MemoryLogger, re: RegExp) => l.lines.some((x) => x.level === 'warn' && re.test(x.msg));
    assert.ok(warned(log, /10\.11\.1\.0-24.*not JSON/), JSON.stringify(log.lines));
    assert.ok(warned(log, /subnets\/garbage is not a subnet key/));
    await assert.rejects(manager(prefix).acquireLease({ config, attrs: attrs('192.168.10.2'), signal: signal() }), { code: 'E_POOL_EXHAUSTED' });

    const obs = observe(manager(prefix, { log }));
    await obs.waitFor('snapshot', () => obs.snapshots === 1, 5000);
    assert.deepEqual(obs.peers(), ['10.11.2.0/24']);
    await etcdctl(etcd.endpoint, ['put', `${prefix}/subnets/10.11.1.0-24`, '{"PublicIP":42}']);
    await delay(300);
    assert.deepEqual(obs.peers(), ['10.11.2.0/24']);
  });

  it('rejects a missing config key with E_CONFIG_MISSING and the command to fix it', async () => {
    const prefix = newPrefix();
    await assert.rejects(manager(prefix).getNetworkConfig(signal()), (err: unknown) => {
      assert.ok(err instanceof DatastoreError);
      assert.equal(err.code, 'E_CONFIG_MISSING');
      assert.ok(err.message.includes(`${prefix}/config`));
      assert.ok(err.hint?.includes(`etcdctl put ${prefix}/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`), err.hint);
      return true;
    });
  });

  it('rejects an invalid config with the ConfigError naming the etcd key', async () => {
    const prefix = newPrefix();
    await etcdctl(etcd.endpoint, ['put', `${prefix}/config`, '{"Network":"10.0.0.0/33"}']);
    await assert.rejects(manager(prefix).getNetworkConfig(signal()), (err: unknown) => {
      assert.equal((err as Error).name, 'ConfigError');
      assert.ok((err as Error).message.startsWith(`etcd key ${prefix}/config:`), (err as Error).message);
      return true;
    });
  });

  it('fails fast with E_ETCD_UNAVAILABLE naming the endpoint when etcd is unreachable', async () => {
    const m = new EtcdSubnetManager({ endpoints: ['127.0.0.1:1'], prefix: newPrefix(), requestTimeoutMs: 2000 });
    cleanups.push(() => m.close());
    const started = Date.now();
    await assert.rejects(m.getNetworkConfig(signal()), (err: unknown) => {
      assert.ok(err instanceof DatastoreError);
      assert.equal(err.code, 'E_ETCD_UNAVAILABLE');
      assert.ok(err.message.includes('http://127.0.0.1:1'), err.message);
      return true;
    });
    assert.ok(Date.now() - started < 5000);

    // A peer that accepts TCP but never answers must not hang us either.
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => sockets.add(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as AddressInfo).port;
    const hung = new EtcdSubnetManager({ endpoints: [`http://127.0.0.1:${port}`], prefix: newPrefix(), requestTimeoutMs: 1000 });
    cleanups.push(() => hung.close());
    const t0 = Date.now();
    await assert.rejects(hung.getNetworkConfig(signal()), { code: 'E_ETCD_UNAVAILABLE' });
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);

    // The watch keeps retrying instead, and ends cleanly on abort.
    const ac = new AbortController();
    const results: unknown[] = [];
    const done = (async () => {
      for await (const r of m.watchLeases(ac.signal)) results.push(r);
    })();
    await delay(500);
    ac.abort();
    await done;
    assert.deepEqual(results, []);
  });
});

describe('EtcdSubnetManager watch recovery', { skip }, () => {
  let etcd: EtcdHandle;
  const cleanups: Array<() => Promise<void>> = [];
  before(async () => {
    etcd = await startEtcd();
  });
  afterEach(async () => {
    await runCleanups(cleanups);
  });
  after(async () => {
    await etcd?.stop();
  });

  const config = conf({ Network: '10.20.0.0/16' });
  const signal = (): AbortSignal => AbortSignal.timeout(30_000);
  const manager = (prefix: string, extra: Partial<EtcdSubnetManagerOptions> = {}): EtcdSubnetManager => {
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, leaseTTLSeconds: 120, retry: { initialMs: 100, maxMs: 1000 }, ...extra });
    cleanups.push(() => m.close());
    return m;
  };
  const join = (prefix: string, ip: string): Promise<Lease> => manager(prefix).acquireLease({ config, attrs: attrs(ip), signal: signal() });
  const keyOf = (prefix: string, l: Lease): string => `${prefix}/subnets/${l.subnet?.ip.toString()}-24`;

  it('re-lists after the watch revision was compacted away: no lost or phantom peers', async () => {
    const prefix = newPrefix();
    const [b, c] = [await join(prefix, '192.168.20.2'), await join(prefix, '192.168.20.3')];

    // Hold the watch back until the history it needs is compacted.
    const real = new EtcdRegistry({ endpoints: [etcd.endpoint] });
    cleanups.push(() => real.close());
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    async function* gatedWatch(p: string, from: string, s: AbortSignal): AsyncGenerator<WatchBatch> {
      await gate;
      yield* real.watch(p, from, s);
    }
    const gated = new Proxy<Registry>(real, {
      get: (target, prop) => {
        if (prop === 'watch') return gatedWatch;
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const log = createMemoryLogger();
    const obs = new Observer(manager(prefix, { registry: gated, log }));
    cleanups.push(() => obs.stop());
    await obs.waitFor('snapshot', () => obs.snapshots === 1, 5000);
    assert.deepEqual(obs.peers(), [subnetOf(b), subnetOf(c)].sort());

    await etcdctl(etcd.endpoint, ['del', keyOf(prefix, c)]);
    const d = await join(prefix, '192.168.20.4');
    await etcdctl(etcd.endpoint, ['compact', String(await currentRevision(etcd))]);
    open();

    await obs.waitFor('re-list', () => obs.snapshots >= 2, 5000);
    await obs.waitFor('exact peers', () => obs.peers().join() === [subnetOf(b), subnetOf(d)].sort().join(), 2000);
    assert.ok(log.lines.some((l) => /compacted/.test(l.msg)), JSON.stringify(log.lines));
    const seen = obs.events.map((e) => `${e.type} ${subnetOf(e.lease)}`);
    assert.deepEqual(seen.slice(0, 2).sort(), [`added ${subnetOf(b)}`, `added ${subnetOf(c)}`].sort());
    assert.deepEqual(seen.slice(2), [`removed ${subnetOf(c)}`, `added ${subnetOf(d)}`]);

    // And it keeps watching afterwards.
    const e = await join(prefix, '192.168.20.5');
    await obs.waitFor('added after recovery', () => obs.peers().includes(subnetOf(e)), 2000);
  });

  it('survives an etcd restart: re-lists and the peer set stays exact', async () => {
    const prefix = newPrefix();
    const [b, c] = [await join(prefix, '192.168.21.2'), await join(prefix, '192.168.21.3')];
    const log = createMemoryLogger();
    const obs = new Observer(manager(prefix, { log, retry: { initialMs: 1000, maxMs: 2000 } }));
    cleanups.push(() => obs.stop());
    await obs.waitFor('snapshot', () => obs.snapshots === 1, 5000);

    await etcd.halt();
    await delay(1500);
    await etcd.resume();
    // Changed before the watcher is back (it waits ~1-2 s between attempts).
    await etcdctl(etcd.endpoint, ['del', keyOf(prefix, c)]);
    const d = await join(prefix, '192.168.21.4');

    await obs.waitFor('exact peers after restart', () => obs.peers().join() === [subnetOf(b), subnetOf(d)].sort().join(), 15_000);
    // Whether the stream resumed from its revision or broke and re-listed, the peer set is exact
    // and the removal that happened while etcd was away is reported exactly once.
    if (obs.snapshots < 2) assert.ok(!log.lines.some((l) => l.level === 'warn' && /watch broke/.test(l.msg)), 'a broken watch must re-list');
    const removedC = obs.events.filter((e) => e.type === 'removed').map((e) => subnetOf(e.lease));
    assert.deepEqual(removedC, [subnetOf(c)]);

    const e = await join(prefix, '192.168.21.5');
    await obs.waitFor('added after restart', () => obs.peers().includes(subnetOf(e)), 2000);
  });
});

describe('EtcdSubnetManager with TLS and etcd authentication', { skip }, () => {
  let etcd: EtcdHandle;
  const cleanups: Array<() => Promise<void>> = [];
  const prefix = '/flt-secure/network';
  before(async () => {
    etcd = await startEtcd({ tls: true, rootPassword: 'root-pw' });
    await etcd.ctl(['role', 'add', 'flannel']);
    await etcd.ctl(['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${prefix}/`]);
    await etcd.ctl(['user', 'add', 'flannel:flannel-pw', '--interactive=false']);
    await etcd.ctl(['user', 'grant-role', 'flannel', 'flannel']);
    await etcd.ctl(['put', `${prefix}/config`, '{"Network":"10.30.0.0/16","Backend":{"Type":"vxlan"}}']);
  });
  afterEach(async () => {
    await runCleanups(cleanups);
  });
  after(async () => {
    await etcd?.stop();
  });

  const signal = (): AbortSignal => AbortSignal.timeout(20_000);
  const manager = (extra: Partial<EtcdSubnetManagerOptions>): EtcdSubnetManager => {
    const m = new EtcdSubnetManager({ endpoints: [etcd.endpoint], prefix, leaseTTLSeconds: 60, requestTimeoutMs: 2000, ...etcd.tls, ...extra });
    cleanups.push(() => m.close());
    return m;
  };

  it('works over TLS with a client certificate as a user limited to the prefix', async () => {
    const bare = etcd.endpoint.replace(/^https:\/\//, '');
    const m = manager({ endpoints: [bare], username: 'flannel', password: 'flannel-pw' });
    const config = await m.getNetworkConfig(signal());
    const lease = await m.acquireLease({ config, attrs: attrs('192.168.30.1'), signal: signal() });
    const renewed = await m.renewLease(lease, signal());
    assert.equal(subnetOf(renewed), subnetOf(lease));
    const obs = new Observer(m);
    cleanups.push(() => obs.stop());
    await obs.waitFor('snapshot', () => obs.snapshots === 1, 5000);
    assert.deepEqual(obs.peers(), [subnetOf(lease)]);
  });

  it('reports a wrong password as E_ETCD_AUTH', async () => {
    await assert.rejects(manager({ username: 'flannel', password: 'nope' }).getNetworkConfig(signal()), { code: 'E_ETCD_AUTH' });
  });

  it('reports keys outside the granted prefix as E_ETCD_AUTH', async () => {
    await assert.rejects(manager({ username: 'flannel', password: 'flannel-pw', prefix: '/elsewhere' }).getNetworkConfig(signal()), { code: 'E_ETCD_AUTH' });
  });

  it('fails with E_ETCD_UNAVAILABLE when the TLS handshake is refused (no client certificate)', async () => {
    const started = Date.now();
    await assert.rejects(
      manager({ certFile: undefined, keyFile: undefined, username: 'flannel', password: 'flannel-pw' }).getNetworkConfig(signal()),
      (err: unknown) => err instanceof DatastoreError && err.code === 'E_ETCD_UNAVAILABLE' && err.message.includes(etcd.endpoint),
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('rejects an unreadable TLS file with a ConfigError naming it', () => {
    assert.throws(() => manager({ caFile: '/nonexistent/ca.crt' }), (err: unknown) => (err as Error).name === 'ConfigError' && /--etcd-cafile \/nonexistent\/ca\.crt/.test((err as Error).message));
  });
});
