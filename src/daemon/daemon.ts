/**
 * @module daemon/daemon
 * Wires one flanneld: external interface → network config → backend → lease → traffic rules →
 * subnet.env → ready; then runs the backend, lease renewal and rule resync until stopped.
 * Stopping keeps the lease (not revoked) so a restart gets the same subnet. A start-up that fails
 * after it wrote something takes it back (lease, devices, rules, subnet.env) before it exits.
 */
import type { BackendRegistry, ExternalInterface, Network } from '../backend/index.ts';
import type { DaemonOptions, NetworkConfig } from '../config/index.ts';
import { ConfigError, FlannelError, describeError } from '../errors/index.ts';
import type { Kernel } from '../kernel/index.ts';
import type { Lease } from '../lease/index.ts';
import type { Logger } from '../log/index.ts';
import type { FlannelMetrics } from '../metrics/index.ts';
import { E_LEASE_LOST, type SubnetManager } from '../subnet/index.ts';
import { writeSubnetEnv } from '../subnetenv/index.ts';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { UndoLog } from '../async/index.ts';
import { retryWithBackoff } from './backoff.ts';
import { listHostNetworks, underlayOverlapWarnings } from './host-networks.ts';
import { OwnLeaseTap } from './own-lease-tap.ts';
import { startHealthServer, type HealthServer, type HealthState } from './health-server.ts';
import { runLeaseRenewal } from './lease-renewal.ts';
import { watchConfigChanges } from './config-watch.ts';
import { readNodeHints } from './node-hints.ts';
import type { TrafficSetup } from './traffic-setup.ts';

export interface DaemonDeps {
  readonly options: DaemonOptions;
  readonly log: Logger;
  readonly subnets: SubnetManager;
  readonly kernel: Kernel;
  readonly backends: BackendRegistry;
  /** Chooses the interface for inter-node traffic (fatal on a bad --iface). */
  readonly resolveExternalInterface: (signal: AbortSignal) => Promise<ExternalInterface>;
  /** Installs and resyncs iptables/nftables rules; absent means no rule management. */
  readonly traffic?: TrafficSetup;
  /** How long /readyz keeps answering 503 with the reason after a fatal error, before exit (default 2 s). */
  readonly fatalLingerMs?: number;
  /** Served on /metrics and fed by the daemon's loops; absent: no metrics. */
  readonly metrics?: FlannelMetrics;
}

export interface DaemonHandle {
  /** Resolves with the lease once subnet.env is written; rejects if start-up fails. */
  readonly ready: Promise<Lease>;
  /** Resolves when the daemon has stopped; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  readonly healthPort: Promise<number | undefined>;
  stop(): Promise<void>;
}

/** Failures a retry cannot mend: the pool is full, this machine cannot run the backend (a missing kernel module or program), the lease went to another node. */
const FATAL_CODES = new Set(['E_POOL_EXHAUSTED', 'E_BACKEND_UNAVAILABLE', E_LEASE_LOST]);

function isFatal(err: unknown): boolean {
  return err instanceof ConfigError || (err instanceof FlannelError && err.permanent) || FATAL_CODES.has((err as { code?: string }).code ?? '');
}

/** Writes subnet.env, recording how to put back what was there before (or remove it). */
async function writeSubnetEnvUndoable(path: string, write: () => Promise<void>, undo: UndoLog): Promise<void> {
  const before = await readFile(path, 'utf8').catch(() => undefined);
  await write();
  undo.add(`${before === undefined ? 'remove' : 'restore'} ${path}`, async () => {
    if (before === undefined) await rm(path, { force: true });
    else await writeFile(path, before);
  });
}

export function startDaemon(deps: DaemonDeps): DaemonHandle {
  const { options, log, metrics } = deps;
  const controller = new AbortController();
  const signal = controller.signal;
  const health: HealthState = { ready: false, reason: 'starting' };
  let healthServer: HealthServer | undefined;
  let resolveReady!: (l: Lease) => void;
  let rejectReady!: (e: unknown) => void;
  const ready = new Promise<Lease>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);

  const healthPort = (async () => {
    if (!options.healthz) return undefined;
    healthServer = await startHealthServer(options.healthz.ip, options.healthz.port, health, metrics);
    log.info(`health server listening on ${options.healthz.ip}:${healthServer.port} (/healthz, /readyz${metrics ? ', /metrics' : ''})`);
    return healthServer.port;
  })();

  const run = async (): Promise<void> => {
    await healthPort;
    health.reason = 'choosing the external interface';
    const extIface = await deps.resolveExternalInterface(signal);

    health.reason = 'waiting for the network configuration';
    const config: NetworkConfig = await retryWithBackoff(() => deps.subnets.getNetworkConfig(signal), {
      what: `reading the network configuration from ${deps.subnets.name}`,
      signal,
      log,
      isFatal,
    });
    for (const w of config.warnings) log.warn(`network config: ${w}`);
    // The Backend section is checked before anything is written (a bad key must change nothing).
    const factory = fromSource(config, () => deps.backends.get(config.backend.type));
    metrics?.setBackend(config.backend.type);
    fromSource(config, () => factory.checkConfig(config));
    if (config.enableIPv4 && !extIface.publicIP) {
      throw new ConfigError('E_IFACE_NO_ADDRESS', `IPv4 is enabled but interface ${extIface.name} has no IPv4 address and --public-ip is not set`, { hint: 'give the interface an IPv4 address, pass --public-ip, or set "EnableIPv4": false' });
    }
    if (config.enableIPv6 && !extIface.publicIPv6) {
      throw new ConfigError('E_IFACE_NO_ADDRESS', `IPv6 is enabled but interface ${extIface.name} has no IPv6 address and --public-ipv6 is not set`, { hint: 'give the interface a global IPv6 address or pass --public-ipv6' });
    }
    log.info('network configuration', {
      network: config.v4?.network.toString(),
      ipv6Network: config.v6?.network.toString(),
      subnetLen: config.v4?.subnetLen,
      backend: config.backend.type,
      nftables: config.enableNFTables,
    });

    const hostNetworks = await listHostNetworks(deps.kernel, [...(config.v4 ? [4 as const] : []), ...(config.v6 ? [6 as const] : [])], extIface.name);
    for (const w of underlayOverlapWarnings(config, extIface.name, hostNetworks)) log.warn(`network config: ${w}`);

    const tap = new OwnLeaseTap(deps.subnets, metrics ? (r) => metrics.watchResult(r) : undefined);
    const backend = factory.create({
      subnets: tap.subnets,
      kernel: deps.kernel,
      extIface,
      log: log.forComponent(`backend:${config.backend.type}`),
    });
    const hints = await readNodeHints(options.subnetFile, config, log);

    const undo = new UndoLog();
    let network: Network;
    let trafficRun: ((signal: AbortSignal) => Promise<void>) | undefined;
    try {
      health.reason = 'acquiring a subnet lease';
      network = await retryWithBackoff(() => backend.registerNetwork(config, hints, signal, { hostNetworks, undo }), {
        what: 'acquiring a subnet lease',
        signal,
        log,
        isFatal,
      });
      const lease = network.lease;
      metrics?.setLease(lease);
      log.info(`acquired lease: ${[lease.subnet, lease.ipv6Subnet].filter(Boolean).join(' ')}`, {
        subnet: lease.subnet?.toString(),
        ipv6Subnet: lease.ipv6Subnet?.toString(),
        expires: lease.expiration?.toISOString() ?? 'never (reservation)',
      });

      health.reason = 'installing traffic rules';
      trafficRun = deps.traffic ? await deps.traffic.install(config, lease, signal, undo) : undefined;

      const mtu = network.mtu;
      await writeSubnetEnvUndoable(
        options.subnetFile,
        () =>
          writeSubnetEnv(options.subnetFile, {
            ...(lease.subnet && config.v4 ? { network: config.v4.network, subnet: lease.subnet } : {}),
            ...(lease.ipv6Subnet && config.v6 ? { ipv6Network: config.v6.network, ipv6Subnet: lease.ipv6Subnet } : {}),
            mtu,
            ipMasq: options.ipMasq,
          }),
        undo,
      );
      log.info(`wrote ${options.subnetFile}`, { mtu });
      await deps.subnets.networkReady?.(lease, signal);
    } catch (err) {
      if (!signal.aborted && undo.size > 0) {
        log.warn(`start-up failed after it wrote to the node or the datastore; undoing it: ${describeError(err)}`);
        const report = await undo.unwind(AbortSignal.timeout(30_000));
        if (report.undone.length > 0) log.info(`undone: ${report.undone.join('; ')}`);
        for (const f of report.failed) log.error(`could not undo "${f.what}": ${f.error}`);
      }
      throw err;
    }
    undo.commit();
    const lease = network.lease;
    health.ready = true;
    health.reason = '';
    resolveReady(lease);

    const tasks: Array<Promise<void>> = [
      network.run(signal),
      runLeaseRenewal({
        subnets: deps.subnets,
        lease,
        marginMs: options.subnetLeaseRenewMarginMinutes * 60_000,
        log,
        signal,
        follow: (own, onChange) => tap.follow(own, onChange),
        ...(metrics ? { metrics } : {}),
      }),
      watchConfigChanges({ subnets: deps.subnets, running: config, log, signal, checkBackend: (c) => void deps.backends.get(c.backend.type).checkConfig(c) }),
    ];
    if (trafficRun) tasks.push(trafficRun(signal));
    // The first task to fail stops the others; its error is what `done` rejects with.
    await Promise.all(
      tasks.map((t) =>
        t.catch((err: unknown) => {
          controller.abort(err);
          throw err;
        }),
      ),
    );
  };

  let stopping = false;
  const done = (async () => {
    try {
      await run();
    } catch (err) {
      if (!stopping) {
        rejectReady(err);
        if (health.ready && healthServer) {
          // Let probes and the operator see why before the process goes away.
          health.ready = false;
          health.reason = `flanneld failed: ${describeError(err)}`;
          await new Promise((r) => setTimeout(r, deps.fatalLingerMs ?? 2000));
        }
        throw err;
      }
    } finally {
      health.ready = false;
      // A failure's reason stays until the server closes: probes still answered meanwhile say why.
      if (!health.reason.startsWith('flanneld failed: ')) health.reason = 'stopped';
      rejectReady(new Error('daemon stopped before it was ready'));
      await healthServer?.close();
      await deps.subnets.close().catch((err: unknown) => log.warn(`closing ${deps.subnets.name}: ${describeError(err)}`));
    }
  })();
  done.catch(() => undefined);

  return {
    ready,
    done,
    healthPort,
    async stop() {
      stopping = true;
      controller.abort();
      await done.catch(() => undefined);
    },
  };
}

/** Runs a check of the Backend section, naming where the configuration came from in its error, as the parser does. */
function fromSource<T>(config: NetworkConfig, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof ConfigError) || !config.source) throw err;
    throw new ConfigError(err.code, `${config.source}: ${err.message}`, { ...(err.hint ? { hint: err.hint } : {}), cause: err, explainsCause: true });
  }
}
