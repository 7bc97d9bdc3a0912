/**
 * @module backend/extension
 * A backend whose data plane is the operator's own shell commands (upstream's "extension", for
 * prototyping backends): PreStartupCommand before the lease (its output becomes this node's
 * BackendData), PostStartupCommand once the lease is held, SubnetAddCommand and
 * SubnetRemoveCommand per peer (peers.ts). Each runs as `sh -c <command>` in flanneld's
 * environment plus upstream's variables, killed after a timeout (30 s by default). A failing
 * Pre/PostStartupCommand stops start-up, and what start-up wrote (a new lease) is taken back.
 */
import { BackendError } from '../../errors/index.ts';
import { execRunner, type CommandRunner } from '../../exec/index.ts';
import type { NetworkConfig } from '../../config/index.ts';
import type { Lease } from '../../lease/index.ts';
import { watchPeers } from '../../subnet/index.ts';
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { clip, DEFAULT_COMMAND_TIMEOUT_MS, outputFields, runCommand, type CommandOutcome } from './commands.ts';
import { parseExtensionConfig, type CommandName } from './config.ts';
import { PeerCommands, type RetryPolicy } from './peers.ts';

export { parseExtensionConfig, type ExtensionConfig } from './config.ts';
export { DEFAULT_COMMAND_TIMEOUT_MS } from './commands.ts';

export interface ExtensionInit {
  /** Runs the commands (default: child processes of flanneld, in its network namespace). */
  readonly runCommand?: CommandRunner;
  /** How long one command may run before it is killed (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** When a failed SubnetAdd/RemoveCommand is retried (default 2 s, doubling, up to 60 s). */
  readonly retry?: RetryPolicy;
}

/** A failing Pre/PostStartupCommand: permanent, flanneld stops instead of running it again and again. */
const E_START_COMMAND = 'E_EXTENSION_COMMAND';

export function extension(init: ExtensionInit = {}): BackendFactory {
  return {
    type: 'extension',
    checkConfig: (config) => parseExtensionConfig(config.backend.raw),
    create: ({ subnets, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        const { config: cfg, warnings } = parseExtensionConfig(config.backend.raw);
        for (const w of warnings) log.warn(`network config: ${w}`);
        const runner = init.runCommand ?? execRunner();
        const timeoutMs = init.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;

        let backendData: string | undefined;
        if (cfg.preStartupCommand) {
          const out = await runCommand({ runner, timeoutMs, signal }, 'PreStartupCommand', cfg.preStartupCommand, {});
          if (!out.ok) throw startFailure('PreStartupCommand', cfg.preStartupCommand, out, 'nothing was written');
          // As upstream: the output, trimmed, is this node's BackendData (a JSON string).
          backendData = out.stdout.trim();
          log.info(`ran PreStartupCommand: its output (${backendData.length} characters) is this node's BackendData`, outputFields(cfg.preStartupCommand, out));
        } else {
          log.info('no PreStartupCommand configured: the lease carries no BackendData');
        }

        const lease = await subnets.acquireLease({
          config,
          attrs: { ...baseLeaseAttrs(extIface, config, 'extension'), ...(backendData !== undefined ? { backendData } : {}) },
          hints,
          signal,
          ...options,
        });

        if (cfg.postStartupCommand) {
          const out = await runCommand({ runner, timeoutMs, signal }, 'PostStartupCommand', cfg.postStartupCommand, startupEnv(config, lease));
          if (!out.ok) throw startFailure('PostStartupCommand', cfg.postStartupCommand, out, 'a lease this start-up acquired is released');
          log.info('ran PostStartupCommand', outputFields(cfg.postStartupCommand, out));
        } else {
          log.info('no PostStartupCommand configured');
        }

        return {
          lease,
          mtu: extIface.mtu,
          async run(runSignal) {
            const peers = new PeerCommands({ cfg, context: { runner, timeoutMs }, log, ...(init.retry ? { retry: init.retry } : {}) });
            await peers.run(watchPeers(subnets, lease, runSignal, log), runSignal);
          },
        };
      },
    }),
  };
}

/** PostStartupCommand's environment: upstream's NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP, PUBLIC_IPV6 ('' for what is missing), and IPV6NETWORK. */
export function startupEnv(config: NetworkConfig, lease: Lease): Record<string, string> {
  return {
    NETWORK: config.v4?.network.toString() ?? '',
    SUBNET: lease.subnet?.toString() ?? '',
    IPV6NETWORK: config.v6?.network.toString() ?? '',
    IPV6SUBNET: lease.ipv6Subnet?.toString() ?? '',
    PUBLIC_IP: lease.attrs.publicIP?.toString() ?? '',
    PUBLIC_IPV6: lease.attrs.publicIPv6?.toString() ?? '',
  };
}

function startFailure(name: CommandName, command: string, out: Extract<CommandOutcome, { ok: false }>, undone: string): BackendError {
  return new BackendError(E_START_COMMAND, `${out.why} (the command: sh -c ${JSON.stringify(clip(command, 200))})`, {
    permanent: true,
    hint: `fix Backend.${name} in the network configuration (run it by hand with sh -c to see why it fails) and restart flanneld; start-up stopped and ${undone}`,
  });
}
