/**
 * @module subnet/testing/subnet-manager-contract
 * What every SubnetManager must do, as node:test cases any implementation registers with its own
 * harness: `subnetManagerContract('etcd (memory)', { capabilities, makeHarness })`. The cases only
 * use the SubnetManager interface and what another node sees through its own watch; what a
 * datastore legitimately does differently is a declared capability, never a test of the name.
 *
 * Every case gets a fresh harness (an empty datastore holding CONTRACT_NET_CONF or the text it
 * asks for) and closes it at the end, also on failure. Nodes are "node1", "node2", ... with public
 * IP 192.0.2.<n>; a harness may need the name (kube: NODE_NAME) or only the address (etcd).
 * Waits are event-driven (the next watch result), each bounded by a generous deadline.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig, type NetworkConfig } from '../../config/index.ts';
import { ConfigError, LeaseError } from '../../errors/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import { describeLease, leaseId, LeaseWatcher, type Lease, type LeaseAttrs, type LeaseEvent } from '../../lease/index.ts';
import { E_LEASE_LOST, type AcquireOptions, type HostNetwork, type SubnetManager, type WatchResult } from '../manager.ts';

export const CONTRACT_NETWORK = '10.244.0.0/16';
export const CONTRACT_NET_CONF = JSON.stringify({ Network: CONTRACT_NETWORK, SubnetLen: 24, Backend: { Type: 'vxlan' } });
/** The public IP of the node a harness makes take over a subnet (tamper 'steal'). */
export const THIEF_IP = '192.0.2.250';

export interface SubnetManagerCapabilities {
  /**
   * 'allocates': the manager picks a free subnet itself (etcd), avoiding the node's own networks.
   * 'assigned': the datastore assigns every node its subnet (kube: the podCIDR) and the manager
   * only checks it; one overlapping the node's own networks is a ConfigError.
   */
  readonly subnets: 'allocates' | 'assigned';
  /** Seconds a fresh lease lives (renewal starts them again), or undefined: leases never expire (kube). */
  readonly leaseTTLSeconds: number | undefined;
}

/** How someone outside flannel changes a node's stored lease. */
export type Tamper =
  /** the lease is gone (etcd: key deleted; kube: flannel's annotations removed) */
  | 'delete'
  /** the stored value is unreadable (etcd: not JSON; kube: backend-data not JSON) */
  | 'garble'
  /** another node, public IP THIEF_IP, holds the subnet now (etcd: its value at the key; kube: the podCIDR moved to another node) */
  | 'steal';

export interface SubnetManagerHarness {
  /** A new manager for `node` (the same name again: that node restarted); closed by close(). */
  manager(node: string): SubnetManager;
  tamper(node: string, lease: Lease, how: Tamper): Promise<void>;
  /** The node leaves the cluster: its lease is gone (etcd: key deleted; kube: Node deleted). */
  remove(node: string, lease: Lease): Promise<void>;
  /** The clock lease expirations are measured against (ms since the epoch). */
  now(): number;
  /** Lets lease time pass: a manual clock advances `ms`; against a real datastore the harness may just wait a little. */
  elapse(ms: number): Promise<void>;
  /** Closes every manager it made and removes what it created. */
  close(): Promise<void>;
}

export interface SubnetManagerContractOptions {
  capabilities: SubnetManagerCapabilities;
  /** A fresh, empty datastore whose network configuration is `netConf` (text, possibly invalid). */
  makeHarness(options: { netConf: string }): Promise<SubnetManagerHarness>;
  skip?: string | false;
  /** Suite-level setup and teardown (e.g. start one etcd for all cases). */
  before?: () => Promise<void> | void;
  after?: () => Promise<void> | void;
  /** Deadline of one wait, e.g. for the next watch result (default 15 s). */
  deadlineMs?: number;
}

const nodeName = (n: number): string => `node${n}`;
const mac = (n: number, v = 0): string => `aa:bb:cc:00:${v.toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`;
export const contractAttrs = (n: number, v = 0): LeaseAttrs => ({ publicIP: IPAddress.parse(`192.0.2.${n}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac(n, v) } });

/** What a peer needs of a lease, in one line: "10.244.3.0/24 via 192.0.2.1 vxlan {"VNI":1,...}". */
export function describePeer(lease: Lease): string {
  return `${describeLease(lease)} ${lease.attrs.backendType} ${JSON.stringify(lease.attrs.backendData ?? null)}`;
}
const expectPeer = (lease: Lease, attrs: LeaseAttrs): string => describePeer({ ...lease, attrs });

/** Settles like `promise`, or rejects when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Follows one watchLeases through a LeaseWatcher, as the daemon does, one result at a time. */
class WatchReader {
  readonly watcher = new LeaseWatcher();
  readonly results: WatchResult[] = [];
  readonly #ac = new AbortController();
  readonly #it: AsyncIterator<WatchResult>;
  readonly #deadlineMs: number;
  #ended = false;

  constructor(manager: SubnetManager, deadlineMs: number, signal?: AbortSignal) {
    this.#deadlineMs = deadlineMs;
    const s = signal ? AbortSignal.any([signal, this.#ac.signal]) : this.#ac.signal;
    this.#it = manager.watchLeases(s)[Symbol.asyncIterator]();
  }

  get snapshots(): number {
    return this.results.filter((r) => r.kind === 'snapshot').length;
  }

  /** Every event delivered as a delta (not by a snapshot). */
  get deltas(): LeaseEvent[] {
    return this.results.flatMap((r) => (r.kind === 'events' ? r.events : []));
  }

  peers(): string[] {
    return this.watcher.peers.map(describePeer).sort();
  }

  /** The next result, or undefined when the watch ended. */
  async next(what: string): Promise<WatchResult | undefined> {
    const r = await within(this.#it.next(), this.#deadlineMs, () => `the watch gave no result while waiting for ${what}; peers now: ${JSON.stringify(this.peers())}`);
    if (r.done) {
      this.#ended = true;
      return undefined;
    }
    this.results.push(r.value);
    if (r.value.kind === 'snapshot') this.watcher.reset(r.value.leases);
    else this.watcher.update(r.value.events);
    return r.value;
  }

  async until(what: string, done: (peers: string[]) => boolean): Promise<void> {
    while (!done(this.peers())) {
      if (!(await this.next(what))) throw new Error(`the watch ended while waiting for ${what}; peers: ${JSON.stringify(this.peers())}`);
    }
  }

  abort(): void {
    this.#ac.abort();
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    if (this.#ended || !this.#it.return) return;
    await within(this.#it.return(), this.#deadlineMs, () => 'the watch did not end after its signal aborted');
  }
}

export function subnetManagerContract(name: string, options: SubnetManagerContractOptions): void {
  const { capabilities: caps, makeHarness } = options;
  const deadlineMs = options.deadlineMs ?? 15_000;
  const signal = (): AbortSignal => AbortSignal.timeout(Math.max(deadlineMs, 20_000));
  const network = Cidr.parse(CONTRACT_NETWORK);

  describe(`SubnetManager contract: ${name}`, { skip: options.skip ?? false }, () => {
    if (options.before) before(options.before);
    if (options.after) after(options.after);

    const harness = async (t: TestContext, netConf = CONTRACT_NET_CONF): Promise<SubnetManagerHarness> => {
      const h = await makeHarness({ netConf });
      t.after(() => h.close());
      return h;
    };

    /** Node `n` starts (a new manager), reads the configuration and acquires its lease. */
    const join = async (h: SubnetManagerHarness, n: number, extra: Partial<AcquireOptions> = {}): Promise<{ manager: SubnetManager; lease: Lease; config: NetworkConfig }> => {
      const manager = h.manager(nodeName(n));
      const config = await manager.getNetworkConfig(signal());
      const lease = await manager.acquireLease({ config, attrs: contractAttrs(n), signal: signal(), ...extra });
      return { manager, lease, config };
    };

    /** The leases another node sees: the first snapshot of a fresh observer's watch. */
    const peerView = async (h: SubnetManagerHarness): Promise<string[]> => {
      const reader = new WatchReader(h.manager('observer'), deadlineMs);
      try {
        const first = await reader.next('the first snapshot');
        assert.equal(first?.kind, 'snapshot', 'a watch starts with a snapshot');
        return reader.peers();
      } finally {
        await reader.stop();
      }
    };

    const assertInNetwork = (lease: Lease): Cidr => {
      const subnet = lease.subnet;
      assert.ok(subnet, 'an IPv4 network gives an IPv4 subnet');
      assert.equal(subnet.prefix, 24, `SubnetLen 24: ${subnet.toString()}`);
      assert.ok(network.containsCidr(subnet), `${subnet.toString()} is inside Network ${CONTRACT_NETWORK}`);
      assert.equal(lease.ipv6Subnet, undefined, 'no IPv6 subnet when IPv6 is off');
      return subnet;
    };

    it('getNetworkConfig returns the parsed configuration', async (t) => {
      const h = await harness(t);
      // Where the text came from (an etcd key, a file) is each datastore's own; the rest is not.
      const { warnings: _got, source, ...got } = await h.manager('node1').getNetworkConfig(signal());
      const { warnings: _want, source: _wantSource, ...want } = parseNetworkConfig(CONTRACT_NET_CONF);
      assert.deepEqual(got, want);
      assert.ok(typeof source === 'string' && source.length > 0, `source names where the configuration came from, got ${String(source)}`);
      assert.equal(got.v4?.network.toString(), CONTRACT_NETWORK);
      assert.equal(got.backend.type, 'vxlan');
    });

    it('getNetworkConfig rejects an invalid configuration with a ConfigError naming the value', async (t) => {
      const h = await harness(t, JSON.stringify({ Network: '10.244.0.0/33', Backend: { Type: 'vxlan' } }));
      await assert.rejects(h.manager('node1').getNetworkConfig(signal()), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.ok(err.message.includes('10.244.0.0/33'), err.message);
        return true;
      });
    });

    it('acquireLease gives a subnet inside Network carrying the attributes given, as peers see them', async (t) => {
      const h = await harness(t);
      const { lease } = await join(h, 1);
      const subnet = assertInNetwork(lease);
      assert.equal(lease.attrs.publicIP?.toString(), '192.0.2.1');
      assert.equal(lease.attrs.backendType, 'vxlan');
      assert.deepEqual(lease.attrs.backendData, { VNI: 1, VtepMAC: mac(1) });
      const expires = lease.expiration?.getTime() ?? Number.NaN;
      if (caps.leaseTTLSeconds !== undefined) {
        const left = expires - h.now();
        assert.ok(left > 0 && left <= caps.leaseTTLSeconds * 1000 + 2000, `expires in ${left} ms, TTL ${caps.leaseTTLSeconds} s`);
      } else {
        assert.ok(expires > h.now() + 50 * 365 * 86_400_000, `a lease that never expires: ${lease.expiration?.toISOString()}`);
      }
      assert.deepEqual(await peerView(h), [`${subnet.toString()} via 192.0.2.1 vxlan {"VNI":1,"VtepMAC":"${mac(1)}"}`]);
    });

    it('the same node acquiring again (a restart) keeps its subnet and publishes its new attributes', async (t) => {
      const h = await harness(t);
      const first = await join(h, 1);
      const again = await join(h, 1, { attrs: contractAttrs(1, 7) });
      assert.equal(again.lease.subnet?.toString(), first.lease.subnet?.toString());
      assert.deepEqual(again.lease.attrs.backendData, { VNI: 1, VtepMAC: mac(1, 7) });
      assert.deepEqual(await peerView(h), [expectPeer(first.lease, contractAttrs(1, 7))]);
    });

    it('two nodes get distinct subnets', async (t) => {
      const h = await harness(t);
      const a = await join(h, 1);
      const b = await join(h, 2);
      const [sa, sb] = [assertInNetwork(a.lease), assertInNetwork(b.lease)];
      assert.ok(!sa.overlaps(sb), `${sa.toString()} and ${sb.toString()} overlap`);
      assert.deepEqual(await peerView(h), [expectPeer(a.lease, contractAttrs(1)), expectPeer(b.lease, contractAttrs(2))].sort());
    });

    it("never leases a subnet overlapping one of the node's own networks, not even the one it held", async (t) => {
      const h = await harness(t);
      const first = await join(h, 1);
      const held = assertInNetwork(first.lease);
      const hostNetworks: HostNetwork[] = [{ cidr: held, device: 'eth0', external: true }];
      const restart = h.manager(nodeName(1));
      const config = await restart.getNetworkConfig(signal());
      const acquiring = restart.acquireLease({ config, attrs: contractAttrs(1), hostNetworks, signal: signal() });
      if (caps.subnets === 'allocates') {
        const lease = await acquiring;
        const subnet = assertInNetwork(lease);
        assert.ok(!subnet.overlaps(held), `${subnet.toString()} overlaps the host network ${held.toString()}`);
        assert.deepEqual(await peerView(h), [expectPeer(lease, contractAttrs(1))], 'the overlapping lease is given up');
      } else {
        await assert.rejects(acquiring, (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.ok(err.message.includes(`${held.toString()} on eth0`), err.message);
          return true;
        });
      }
    });

    // Where the datastore assigns the subnets (kube) there is no choice to make; an assigned one overlapping the node is refused (above).
    if (caps.subnets === 'allocates') {
      it('a fresh node avoids every network of its own when choosing a subnet', async (t) => {
        const h = await harness(t);
        const lower = Cidr.parse('10.244.0.0/17');
        const { lease } = await join(h, 1, { hostNetworks: [{ cidr: lower, device: 'eth0', external: true }] });
        const subnet = assertInNetwork(lease);
        assert.ok(!subnet.overlaps(lower), `${subnet.toString()} overlaps ${lower.toString()}`);
      });
    }

    it('acquireLease without a public IPv4 address fails with E_LEASE_ATTRS and publishes nothing', async (t) => {
      const h = await harness(t);
      const m = h.manager(nodeName(1));
      const config = await m.getNetworkConfig(signal());
      await assert.rejects(m.acquireLease({ config, attrs: { backendType: 'vxlan' }, signal: signal() }), (err: unknown) => {
        assert.ok(err instanceof LeaseError, String(err));
        assert.equal(err.code, 'E_LEASE_ATTRS');
        assert.equal(err.message, 'IPv4 is enabled in the network config but this node has no public IPv4 address');
        return true;
      });
      assert.deepEqual(await peerView(h), []);
    });

    it('renewLease keeps the subnet and attributes and extends the expiry', async (t) => {
      const h = await harness(t);
      const { manager, lease } = await join(h, 1);
      await h.elapse(1000);
      const renewed = await manager.renewLease(lease, signal());
      assert.equal(renewed.subnet?.toString(), lease.subnet?.toString());
      assert.equal(describePeer(renewed), describePeer(lease));
      const [was, now] = [lease.expiration?.getTime() ?? Number.NaN, renewed.expiration?.getTime() ?? Number.NaN];
      if (caps.leaseTTLSeconds !== undefined) {
        assert.ok(now > was, `renewed expiry ${renewed.expiration?.toISOString()} is later than ${lease.expiration?.toISOString()}`);
        assert.ok(Math.abs(now - (h.now() + caps.leaseTTLSeconds * 1000)) <= 2000, `a full TTL from now: ${renewed.expiration?.toISOString()}`);
      } else {
        assert.equal(now, was, 'a lease that never expires keeps its expiry');
      }
      assert.deepEqual(await peerView(h), [describePeer(lease)]);
    });

    for (const how of ['delete', 'garble'] as const) {
      it(`renewLease repairs its lease after someone ${how === 'delete' ? 'deleted' : 'garbled'} it`, async (t) => {
        const h = await harness(t);
        const { manager, lease } = await join(h, 1);
        const other = await join(h, 2);
        await h.tamper(nodeName(1), lease, how);
        assert.deepEqual(await peerView(h), [describePeer(other.lease)], 'peers no longer see the damaged lease');
        const repaired = await manager.renewLease(lease, signal());
        assert.equal(repaired.subnet?.toString(), lease.subnet?.toString());
        assert.deepEqual(await peerView(h), [describePeer(lease), describePeer(other.lease)].sort(), 'peers see it again');
      });
    }

    it('renewLease fails with E_LEASE_LOST when another node holds its subnet now, and leaves that node alone', async (t) => {
      const h = await harness(t);
      const { manager, lease } = await join(h, 1);
      await h.tamper(nodeName(1), lease, 'steal');
      for (const attempt of [1, 2]) {
        await assert.rejects(manager.renewLease(lease, signal()), (err: unknown) => {
          assert.ok(err instanceof LeaseError, `attempt ${attempt}: ${String(err)}`);
          assert.equal(err.code, E_LEASE_LOST);
          return true;
        });
      }
      const view = await peerView(h);
      assert.ok(
        view.some((p) => p.startsWith(`${lease.subnet?.toString()} via ${THIEF_IP} `)),
        `the other node still holds ${lease.subnet?.toString()}: ${JSON.stringify(view)}`,
      );
    });

    it("watchLeases yields a snapshot first, then other nodes' leases coming and going as events", async (t) => {
      const h = await harness(t);
      const a = await join(h, 1);
      const b = await join(h, 2);
      const reader = new WatchReader(a.manager, deadlineMs);
      t.after(() => reader.stop());
      const first = await reader.next('the first snapshot');
      assert.equal(first?.kind, 'snapshot');
      assert.deepEqual(reader.peers(), [describePeer(a.lease), describePeer(b.lease)].sort());

      const c = await join(h, 3);
      await reader.until('node3 to join', (peers) => peers.includes(describePeer(c.lease)));
      const added = reader.deltas.filter((e) => e.type === 'added' && leaseId(e.lease) === leaseId(c.lease));
      assert.ok(added.length > 0, 'the join came as an event');
      assert.equal(describePeer((added.at(-1) as LeaseEvent).lease), describePeer(c.lease));

      await h.remove(nodeName(3), c.lease);
      await reader.until('node3 to leave', (peers) => !peers.includes(describePeer(c.lease)));
      const removed = reader.deltas.filter((e) => e.type === 'removed');
      assert.deepEqual(removed.map((e) => leaseId(e.lease)), [leaseId(c.lease)]);
      assert.equal(describePeer(removed[0]?.lease as Lease), describePeer(c.lease), 'the removal carries what the data plane must delete');
      assert.deepEqual(reader.peers(), [describePeer(a.lease), describePeer(b.lease)].sort());
      assert.equal(reader.snapshots, 1, 'all of that came as events, without a re-list');
    });

    it('a peer whose stored lease turns to garbage is removed, and comes back once it repairs it', async (t) => {
      const h = await harness(t);
      const a = await join(h, 1);
      const b = await join(h, 2);
      const reader = new WatchReader(a.manager, deadlineMs);
      t.after(() => reader.stop());
      await reader.until('node2 in the snapshot', (peers) => peers.includes(describePeer(b.lease)));

      await h.tamper(nodeName(2), b.lease, 'garble');
      await reader.until('the garbled peer to go', (peers) => !peers.includes(describePeer(b.lease)));
      assert.deepEqual(reader.deltas.filter((e) => e.type === 'removed').map((e) => describePeer(e.lease)), [describePeer(b.lease)]);

      await b.manager.renewLease(b.lease, signal());
      await reader.until('the repaired peer to come back', (peers) => peers.includes(describePeer(b.lease)));
      assert.deepEqual(reader.peers(), [describePeer(a.lease), describePeer(b.lease)].sort());
      assert.equal(reader.snapshots, 1);
    });

    it('watchLeases ends without an error when its signal aborts', async (t) => {
      const h = await harness(t);
      const a = await join(h, 1);
      const reader = new WatchReader(a.manager, deadlineMs);
      assert.equal((await reader.next('the first snapshot'))?.kind, 'snapshot');
      const waiting = reader.next('the end of the watch');
      reader.abort();
      assert.equal(await waiting, undefined, 'the watch ended');

      const aborted = new AbortController();
      aborted.abort();
      for (const [manager, which] of [[a.manager, 'after acquiring'], [h.manager(nodeName(2)), 'on a manager that has read nothing yet']] as const) {
        const early = new WatchReader(manager, deadlineMs, aborted.signal);
        assert.equal(await early.next('a watch started aborted to end'), undefined, `a watch started with an aborted signal yields nothing (${which})`);
      }
    });

    it('close() ends open watches and may be called again', async (t) => {
      const h = await harness(t);
      const a = await join(h, 1);
      const reader = new WatchReader(a.manager, deadlineMs);
      assert.equal((await reader.next('the first snapshot'))?.kind, 'snapshot');
      const waiting = reader.next('the end of the watch');
      await a.manager.close();
      assert.equal(await waiting, undefined, 'close() ended the watch');
      await a.manager.close();
    });
  });
}
