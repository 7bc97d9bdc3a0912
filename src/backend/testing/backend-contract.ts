/**
 * @module backend/testing/backend-contract
 * What every backend must do, as node:test cases each backend registers from its own
 * contract.test.ts: `backendContract('vxlan', { type: 'vxlan', ... })`. The cases use only the
 * BackendFactory interface and look at the result as an operator would: everything in the
 * kernel as sorted `ip`-style lines (fixtures' kernelLines) plus what the backend keeps outside
 * the kernel (the adapter's extraLines), compared with the lines the adapter says this node's own
 * setup and each peer must add. A failure reads as a diff of kernel state. What a backend
 * legitimately does differently is declared by its adapter, never tested by its name.
 *
 * Every case gets a fresh machine: a FakeKernel with the underlay eth0 192.0.2.1/24 (MTU 1500
 * unless the case says otherwise), this node's lease CONTRACT_SUBNET of CONTRACT_NETWORK, an
 * in-memory subnet manager and logger. Peer n (1, 2, 3...) has subnet 10.244.<n+1>.0/24 and
 * public IP 192.0.2.<10+n>, on eth0's segment (so even host-gw routes it), with the BackendData
 * the adapter's peerData(n) gives. Waits poll the observed state every few ms until it is what is
 * expected, each bounded by a generous deadline; the backend gets short reconcile intervals
 * (CONTRACT_TUNING), so its periodic checks come quickly and no case sleeps.
 *
 * The cases, for every backend: it registers (lease of its type with the public IP and, byte for
 * byte, the BackendData its state calls for; the node set up as its lease says); gives pods the
 * MTU the adapter says for eth0 at 1500 and 9000; programs peers of its type (first snapshot,
 * then joining), updates a peer that moved, removes everything of a peer that left; repairs each
 * damage the adapter lists; refuses each invalid Backend section with the exact ConfigError in
 * checkConfig and at registration, leasing and changing nothing; warns about an unknown key with
 * the exact text; keeps its identity across a restart on the same machine; ignores a peer of
 * another backend type; and lets the undo log take back what registration created. Texts every
 * backend shares: registration logs each config warning as `network config: <warning>` (warn); a
 * peer of another type gets one warning `peer <subnet> at|via <public IP> uses backend "<its
 * type>", not <ours>...`.
 *
 * Adding a backend: write src/backend/<name>/contract.test.ts calling backendContract with
 * - `type` (the lease BackendType) and `backend`: the Backend settings every case runs with;
 * - `machine(kernel, t)`: per simulated node, the backend factory wired to fakes bound to that
 *   FakeKernel (FakeWireguard, a TUN stand-in, a recording command runner...) and to files that
 *   must survive a restart (a key file in a temp dir that t.after removes); with
 *   `expectedBackendData()`, the BackendData the node's state calls for, and `extraLines()`,
 *   the backend's state outside the FakeKernel (WireGuard peers, a userspace route table, the
 *   subnets an extension's commands were told about...);
 * - `podMtu(extMtu)`: the pod MTU the backend leaves of an external interface MTU;
 * - `ownLines(ctx)`, `peerData(n)`, `peerLines(peer, ctx)`: the lines this node's own setup and
 *   each peer of its type add, in kernelLines' format (see that function for the line shapes);
 * - `damages`: ways an operator breaks a programmed node (delete a route, drop a WireGuard
 *   peer, delete the device...), each with the exact log lines its repair writes, if any (none
 *   for a backend that repairs nothing: no case);
 * - `config`: invalid Backend sections with their exact ConfigError message (none when no
 *   setting can be invalid), sections only registration can refuse (a rule involving the
 *   external interface), and an unknown key with its exact warning.
 *
 * @example A route-per-peer backend without BackendData (see host-gw/contract.test.ts for a whole one):
 * ```ts
 * backendContract('ipip', {
 *   type: 'ipip',
 *   machine: () => ({ factory: (tuning) => ipip(tuning), expectedBackendData: async () => undefined }),
 *   podMtu: (extMtu) => extMtu - 20,
 *   ownLines: ({ lease, ext }) => [`link flannel.ipip ipip mtu ${ext.mtu - 20} up addr ${subnetOf(lease).ip.toString()}/32`],
 *   peerData: () => undefined,
 *   peerLines: (p) => [`route ${subnetOf(p).toString()} via ${publicIPOf(p).toString()} dev flannel.ipip onlink`],
 *   damages: [{ what: 'a route deleted by hand', apply: async (_m, { kernel, peer }) => kernel.deleteRoute({ dst: subnetOf(peer) }) }],
 *   config: { invalid: [{ backend: { DirectRouting: 1 }, message: 'Backend.DirectRouting must be true or false, got number 1' }], unknownKey: { ... } },
 * });
 * ```
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { UndoLog } from '../../async/index.ts';
import type { NetworkConfig } from '../../config/index.ts';
import { ConfigError, shortJson } from '../../errors/index.ts';
import type { Cidr, IPAddress } from '../../ip/index.ts';
import type { FakeKernel } from '../../kernel/index.ts';
import type { JsonValue, Lease } from '../../lease/index.ts';
import type { BackendFactory, ExternalInterface, Network } from '../backend.ts';
import type { ReconcileTuning } from '../peer-reconciler.ts';
import { harness, kernelLines, networkConfig, peer, restartHarness, type Harness } from './fixtures.ts';

export const CONTRACT_NETWORK = '10.244.0.0/16';
/** This node's lease. */
export const CONTRACT_SUBNET = '10.244.1.0/24';
/** The public IP a changed peer moves to (on eth0's segment too). */
export const MOVED_IP = '192.0.2.99';

/** Reconcile knobs for a fast suite: pass on what the factory accepts. */
export type ContractTuning = Required<Pick<ReconcileTuning, 'reconcileIntervalMs' | 'repairDelayMs' | 'retryDelayMs'>>;

export const CONTRACT_TUNING: ContractTuning = { reconcileIntervalMs: 50, repairDelayMs: 5, retryDelayMs: 20 };

/** What the line functions know about the node they describe. */
export interface LinesContext {
  /** This node's lease, as registerNetwork returned it (its BackendData, e.g. the MAC a device must have). */
  readonly lease: Lease;
  readonly config: NetworkConfig;
  /** The underlay (eth0); its MTU varies in the MTU case. */
  readonly ext: ExternalInterface;
}

/** One simulated node as the adapter builds it; the same object serves every run on that node (restarts). */
export interface ContractMachine {
  /**
   * The factory as the daemon would build it on this node, wired to the adapter's fakes; pass on
   * the `tuning` the factory understands (reconcile intervals, repair delay), so repairs are quick.
   */
  factory(tuning: ContractTuning): BackendFactory;
  /**
   * The BackendData the lease must carry, read from the node's state (not from the lease):
   * vxlan `{"VNI":1,"VtepMAC":<flannel.1's MAC>}`, wireguard `{"PublicKey":<the device's key>,"Port":<its port>}`,
   * undefined for a backend without any. Compared as JSON text, so key order counts (upstream's order).
   */
  expectedBackendData(): Promise<JsonValue | undefined>;
  /**
   * Lines for the backend's state that is not in the FakeKernel (WireGuard keys and peers, a
   * userspace route table, ...), in the style of kernelLines; they join the observed state.
   */
  extraLines?(): Promise<string[]>;
}

/** What a damage acts on: this node (its lease, config, underlay) running with two peers. */
export interface DamageTarget extends LinesContext {
  readonly kernel: FakeKernel;
  /** The peer to damage (the first of `peers`). */
  readonly peer: Lease;
  readonly peers: readonly Lease[];
}

/** A way an operator breaks a programmed node; the backend must put everything back. */
export interface Damage<M extends ContractMachine> {
  /** Completes "repairs ...", e.g. "a route deleted by hand". */
  readonly what: string;
  /** Does the damage; it must show in the observed state (the case checks, so a no-op cannot pass as repaired). */
  apply(machine: M, target: DamageTarget): Promise<void>;
  /** Log lines the repair writes, each exactly once after the damage, as `<level>: <message>`. */
  logged?(target: DamageTarget): string[];
}

export interface ConfigCase {
  /** Backend keys besides Type (merged over the adapter's `backend`). */
  readonly backend: Readonly<Record<string, unknown>>;
  /** The exact message of the ConfigError (code E_BACKEND_CONFIG, with a hint). */
  readonly message: string;
}

export interface ConfigContract {
  /**
   * Sections checkConfig and registerNetwork both refuse. Empty when no setting of the backend
   * can be invalid (no case then).
   */
  readonly invalid: readonly ConfigCase[];
  /**
   * Sections checkConfig accepts (it knows no interface) but registerNetwork refuses because a
   * rule involves the external interface, e.g. Backend.MTU above eth0's 1500.
   */
  readonly invalidForInterface?: readonly ConfigCase[];
  /** An unknown key and the exact warning checkConfig returns (registration logs it as `network config: <warning>`). */
  readonly unknownKey: { readonly backend: Readonly<Record<string, unknown>>; readonly warning: string };
}

export interface BackendContractOptions<M extends ContractMachine> {
  /** The backend type: the factory's type and every lease's BackendType. */
  readonly type: string;
  /** Backend settings every case runs with besides Type (default none); they must give no warning. */
  readonly backend?: Readonly<Record<string, unknown>>;
  /** A new simulated node on `kernel` (eth0 already there); register cleanups with t.after. */
  machine(kernel: FakeKernel, t: TestContext): M | Promise<M>;
  /** The pod MTU (Network.mtu, FLANNEL_MTU) for an external interface MTU. */
  podMtu(extMtu: number): number;
  /** The lines this node's own setup adds (devices, the Network route, keys), none for a backend without devices. */
  ownLines(ctx: LinesContext): string[];
  /** The BackendData peer node n publishes (undefined: none). */
  peerData(n: number): JsonValue | undefined;
  /** The lines a peer of this type adds (routes, neighbours, FDB entries, WireGuard peers...). */
  peerLines(peer: Lease, ctx: LinesContext): string[];
  /** Ways to break a programmed node that the backend repairs; empty when it repairs nothing (no case then). */
  readonly damages: ReadonlyArray<Damage<M>>;
  readonly config: ConfigContract;
  readonly skip?: string | false;
  /** Deadline of one wait (default 15 s). */
  readonly deadlineMs?: number;
}

/** Peer node n of `type`: subnet 10.244.<n+1>.0/24, public IP 192.0.2.<10+n>. */
export function contractPeer(n: number, type: string, backendData: JsonValue | undefined, publicIP = `192.0.2.${10 + n}`): Lease {
  return peer({ subnet: `10.244.${n + 1}.0/24`, publicIP, backendType: type, ...(backendData !== undefined ? { backendData } : {}) });
}

/** The IPv4 subnet of a contract lease (every one has one). */
export function subnetOf(lease: Lease): Cidr {
  assert.ok(lease.subnet, `a contract lease has an IPv4 subnet: ${JSON.stringify(lease)}`);
  return lease.subnet;
}

/** The public IPv4 address of a contract lease (every one has one). */
export function publicIPOf(lease: Lease): IPAddress {
  assert.ok(lease.attrs.publicIP, `a contract lease has a public IP: ${JSON.stringify(lease)}`);
  return lease.attrs.publicIP;
}

/** Settles like `promise`, or rejects when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const POLL_MS = 5;

export function backendContract<M extends ContractMachine>(name: string, options: BackendContractOptions<M>): void {
  const { type } = options;
  const deadlineMs = options.deadlineMs ?? 15_000;
  const foreignType = ['vxlan', 'host-gw'].find((t) => t !== type) ?? 'vxlan';
  const configWith = (backend: Readonly<Record<string, unknown>> = {}): NetworkConfig => networkConfig({ Type: type, ...options.backend, ...backend }, { Network: CONTRACT_NETWORK });
  const peerN = (n: number, publicIP?: string): Lease => contractPeer(n, type, options.peerData(n), publicIP);

  interface Node {
    h: Harness;
    machine: M;
    config: NetworkConfig;
  }

  interface Running {
    net: Network;
    factory: BackendFactory;
    ctx: LinesContext;
    /** The run's failure, if it ended with one. */
    failure(): unknown;
    stop(): Promise<void>;
  }

  const newNode = async (t: TestContext, o: { peers?: Lease[]; extMtu?: number; backend?: Readonly<Record<string, unknown>> } = {}): Promise<Node> => {
    const config = configWith(o.backend);
    const h = harness({ config, subnet: CONTRACT_SUBNET, peers: o.peers ?? [], ...(o.extMtu !== undefined ? { extMtu: o.extMtu } : {}) });
    return { h, machine: await options.machine(h.kernel, t), config };
  };

  /** Registers the network and runs it; stopped at the end of the case, also on failure. */
  const start = async (t: TestContext, node: Node): Promise<Running> => {
    const factory = node.machine.factory(CONTRACT_TUNING);
    // Registration's signal bounds the devices' life too (wireguard-go): it ends with the run.
    const life = new AbortController();
    const net = await within(factory.create(node.h.deps).registerNetwork(node.config, {}, life.signal), deadlineMs, 'registerNetwork');
    const ac = new AbortController();
    let failure: unknown;
    const done = net.run(ac.signal).catch((err: unknown) => void (failure = err ?? new Error('run rejected')));
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        ac.abort();
        await within(done, deadlineMs, 'run() ending after its signal aborted');
        life.abort();
        if (failure !== undefined) throw failure;
      })());
    t.after(stop);
    return { net, factory, ctx: { lease: net.lease, config: node.config, ext: node.h.ext }, failure: () => failure, stop };
  };

  const observe = async (node: Node): Promise<string[]> => [...(await kernelLines(node.h.kernel)), ...((await node.machine.extraLines?.()) ?? [])].sort();

  const expected = (ctx: LinesContext, peers: readonly Lease[]): string[] => [...options.ownLines(ctx), ...peers.flatMap((p) => options.peerLines(p, ctx))].sort();

  const logLines = (h: Harness, from = 0): string[] => h.log.lines.slice(from).map((l) => `${l.level}: ${l.msg}`);

  /** Waits until the observed state is `want` and every line of `logs` was logged (after `logFrom`). */
  const settle = async (what: string, node: Node, run: Running | undefined, want: string[], logs: { lines: string[]; from: number } = { lines: [], from: 0 }): Promise<void> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const failure = run?.failure();
      if (failure !== undefined) throw failure;
      const got = await observe(node);
      const logged = logLines(node.h, logs.from);
      const missing = logs.lines.filter((l) => !logged.includes(l));
      if (isDeepStrictEqual(got, want) && missing.length === 0) return;
      if (Date.now() > deadline) {
        assert.deepEqual(got, want, `${what}: the state is not what it should be after ${deadlineMs} ms`);
        assert.deepEqual(missing, [], `${what}: not logged after ${deadlineMs} ms; the log: ${JSON.stringify(logged, null, 1)}`);
      }
      await delay(POLL_MS);
    }
  };

  const isExactConfigError = (message: string) => (err: unknown) => {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'E_BACKEND_CONFIG');
    assert.equal(err.message, message);
    assert.ok(err.hint && err.hint.length > 0, 'with a hint saying what to do');
    return true;
  };

  /** Registration refuses `c`: exact error, no lease, nothing changed. */
  const assertRegistrationRefuses = async (node: Node, factory: BackendFactory, c: ConfigCase): Promise<void> => {
    const before = await observe(node);
    const signal = AbortSignal.timeout(Math.max(deadlineMs, 20_000));
    await assert.rejects(factory.create(node.h.deps).registerNetwork(configWith(c.backend), {}, signal), isExactConfigError(c.message));
    assert.equal(node.h.subnets.acquired.length, 0, 'no lease was acquired');
    assert.deepEqual(await observe(node), before, 'nothing changed');
  };

  describe(`Backend contract: ${name}`, { skip: options.skip ?? false }, () => {
    it(`registers: a lease of type "${type}" with the public IP and the BackendData its state calls for, the node set up as the lease says`, async (t) => {
      const node = await newNode(t);
      const run = await start(t, node);
      assert.equal(run.factory.type, type);
      assert.equal(node.h.subnets.acquired.length, 1, 'one lease acquired');
      const attrs = node.h.subnets.acquired[0]?.attrs;
      assert.equal(attrs?.backendType, type);
      assert.equal(attrs?.publicIP?.toString(), node.h.ext.publicIP?.toString());
      const want = await node.machine.expectedBackendData();
      assert.equal(JSON.stringify(attrs?.backendData), JSON.stringify(want), 'BackendData, byte for byte');
      assert.equal(attrs?.backendV6Data, undefined, 'no IPv6 data when IPv6 is off');
      assert.equal(JSON.stringify(run.net.lease.attrs), JSON.stringify(attrs), 'the network holds the lease as published');
      assert.equal(run.net.lease.subnet?.toString(), CONTRACT_SUBNET);
      await settle('this node set up', node, run, expected(run.ctx, []));
    });

    it("gives pods the MTU its encapsulation leaves of the external interface's", async (t) => {
      for (const extMtu of [1500, 9000]) {
        const node = await newNode(t, { extMtu });
        const run = await start(t, node);
        assert.equal(run.net.mtu, options.podMtu(extMtu), `pod MTU with eth0 at ${extMtu}`);
        await settle(`this node set up with eth0 at MTU ${extMtu}`, node, run, expected(run.ctx, []));
        await run.stop();
      }
    });

    it('programs peers of its type: those in the first snapshot, then those that join', async (t) => {
      const [p1, p2] = [peerN(1), peerN(2)];
      const node = await newNode(t, { peers: [p1] });
      const run = await start(t, node);
      await settle('the peer from the snapshot', node, run, expected(run.ctx, [p1]));
      node.h.subnets.add(p2);
      await settle('the peer that joined', node, run, expected(run.ctx, [p1, p2]));
    });

    it('updates a peer whose lease changed (a new public IP)', async (t) => {
      const p1 = peerN(1);
      const node = await newNode(t, { peers: [p1, peerN(2)] });
      const run = await start(t, node);
      await settle('both peers', node, run, expected(run.ctx, [p1, peerN(2)]));
      const moved = peerN(1, MOVED_IP);
      node.h.subnets.add(moved);
      await settle(`the peer moved to ${MOVED_IP}`, node, run, expected(run.ctx, [moved, peerN(2)]));
    });

    it('removes everything of a peer that left, down to its own setup when the last one goes', async (t) => {
      const [p1, p2] = [peerN(1), peerN(2)];
      const node = await newNode(t, { peers: [p1, p2] });
      const run = await start(t, node);
      await settle('both peers', node, run, expected(run.ctx, [p1, p2]));
      node.h.subnets.remove(p1);
      await settle('the first peer gone', node, run, expected(run.ctx, [p2]));
      node.h.subnets.remove(p2);
      await settle('no peer left', node, run, expected(run.ctx, []));
    });

    // A backend that repairs nothing (extension: upstream's doesn't either) declares no damages and gets no case here.
    for (const damage of options.damages) {
      it(`repairs ${damage.what}`, async (t) => {
        const peers = [peerN(1), peerN(2)];
        const node = await newNode(t, { peers });
        const run = await start(t, node);
        const whole = expected(run.ctx, peers);
        await settle('both peers', node, run, whole);
        const target: DamageTarget = { ...run.ctx, kernel: node.h.kernel, peer: peers[0] as Lease, peers };
        const from = node.h.log.lines.length;
        await damage.apply(node.machine, target);
        assert.notDeepEqual(await observe(node), whole, 'the damage shows in the state');
        const lines = damage.logged?.(target) ?? [];
        await settle(`repairing ${damage.what}`, node, run, whole, { lines, from });
        const after = logLines(node.h, from);
        for (const line of lines) assert.equal(after.filter((l) => l === line).length, 1, `logged once: ${line}`);
      });
    }

    const { invalid, invalidForInterface = [], unknownKey } = options.config;
    // A backend without settings (host-gw) declares nothing invalid and gets no case here.
    for (const c of invalid) {
      it(`refuses Backend ${shortJson(c.backend)} with the exact ConfigError, in checkConfig and at registration, leasing and changing nothing`, async (t) => {
        const node = await newNode(t);
        const factory = node.machine.factory(CONTRACT_TUNING);
        assert.throws(() => factory.checkConfig(configWith(c.backend)), isExactConfigError(c.message));
        await assertRegistrationRefuses(node, factory, c);
      });
    }
    for (const c of invalidForInterface) {
      it(`refuses Backend ${shortJson(c.backend)} at registration (the rule involves eth0), leasing and changing nothing`, async (t) => {
        const node = await newNode(t);
        const factory = node.machine.factory(CONTRACT_TUNING);
        assert.deepEqual(factory.checkConfig(configWith(c.backend)).warnings, [], 'checkConfig, which knows no interface, accepts it');
        await assertRegistrationRefuses(node, factory, c);
      });
    }

    it('warns about an unknown key with the exact message, in checkConfig and at registration, and runs', async (t) => {
      const node = await newNode(t, { backend: unknownKey.backend });
      const factory = node.machine.factory(CONTRACT_TUNING);
      assert.deepEqual(factory.checkConfig(configWith({})).warnings, [], 'the adapter\'s own settings give no warning');
      assert.deepEqual(factory.checkConfig(configWith(unknownKey.backend)).warnings, [unknownKey.warning]);
      const run = await start(t, node);
      const line = `warn: network config: ${unknownKey.warning}`;
      assert.equal(logLines(node.h).filter((l) => l === line).length, 1, `logged once: ${line}`);
      assert.equal(node.h.subnets.acquired.length, 1, 'the lease was acquired');
      await settle('this node set up', node, run, expected(run.ctx, []));
    });

    it('keeps its identity (its BackendData) across a restart on the same machine, and its peers', async (t) => {
      const p1 = peerN(1);
      const node = await newNode(t, { peers: [p1] });
      const first = await start(t, node);
      await settle('the first run', node, first, expected(first.ctx, [p1]));
      const published = JSON.stringify(node.h.subnets.acquired[0]?.attrs.backendData);
      await first.stop();

      const again: Node = { ...node, h: restartHarness(node.h, { config: node.config, subnet: CONTRACT_SUBNET, peers: [p1] }) };
      const second = await start(t, again);
      assert.equal(JSON.stringify(again.h.subnets.acquired[0]?.attrs.backendData), published, 'the same BackendData after the restart');
      assert.equal(JSON.stringify(await again.machine.expectedBackendData()), published, 'and the state that calls for it is the same');
      await settle('the second run', again, second, expected(second.ctx, [p1]));
    });

    it(`ignores a peer lease of another backend type (here "${foreignType}", with data valid for ${type}), saying so`, async (t) => {
      const p1 = peerN(1);
      const foreign = contractPeer(3, foreignType, options.peerData(3));
      const node = await newNode(t, { peers: [p1, foreign] });
      const run = await start(t, node);
      // How a backend names the peer ("<subnet> at <ip>", "<subnet> via <ip>") is its own; the clause is shared.
      const names = `warn: peer ${subnetOf(foreign).toString()} `;
      const says = ` uses backend "${foreignType}", not ${type}`;
      const warned = (): string[] => logLines(node.h).filter((l) => l.startsWith(names) && l.includes(`${publicIPOf(foreign).toString()}${says}`));
      const deadline = Date.now() + deadlineMs;
      while (warned().length === 0 && Date.now() < deadline) await delay(POLL_MS);
      assert.equal(warned().length, 1, `one warning "${names}... ${publicIPOf(foreign).toString()}${says}..."; the log: ${JSON.stringify(logLines(node.h), null, 1)}`);
      await settle('only the peer of its type programmed', node, run, expected(run.ctx, [p1]));
      node.h.subnets.add(contractPeer(4, foreignType, options.peerData(4)));
      node.h.subnets.add(peerN(2));
      await settle('a foreign peer that joins is not programmed either', node, run, expected(run.ctx, [p1, peerN(2)]));
    });

    it('a failed start-up takes back what registration created (the undo log)', async (t) => {
      const node = await newNode(t);
      const undo = new UndoLog();
      const signal = AbortSignal.timeout(Math.max(deadlineMs, 20_000));
      const net = await node.machine.factory(CONTRACT_TUNING).create(node.h.deps).registerNetwork(node.config, {}, signal, { undo });
      await settle('registration set the node up', node, undefined, expected({ lease: net.lease, config: node.config, ext: node.h.ext }, []));
      const report = await undo.unwind(signal);
      assert.deepEqual(report.failed, []);
      assert.deepEqual(await observe(node), [], 'nothing of it is left');
    });
  });
}
