/**
 * @module daemon/traffic-rules
 * Installs flannel's forward and masquerade rules for a lease with the engine the network
 * config asks for (EnableNFTables), then keeps them in place every --iptables-resync seconds.
 */
import type { DaemonOptions, NetworkConfig } from '../config/index.ts';
import type { Lease } from '../lease/index.ts';
import { describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { createTrafficManager, runResyncLoop, type ResyncOutcome, type RuleRunner, type TrafficNetworks } from '../traffic/index.ts';
import type { TrafficSetup } from './traffic-setup.ts';

export function trafficNetworksFor(config: NetworkConfig, lease: Lease): TrafficNetworks {
  return {
    ...(config.v4 && lease.subnet ? { v4: { network: config.v4.network, podSubnet: lease.subnet } } : {}),
    ...(config.v6 && lease.ipv6Subnet ? { v6: { network: config.v6.network, podSubnet: lease.ipv6Subnet } } : {}),
  };
}

/** `observe` hears the outcome of every periodic check (metrics). */
export function trafficRules(options: DaemonOptions, log: Logger, runner?: RuleRunner, observe?: (outcome: ResyncOutcome) => void): TrafficSetup {
  return {
    async install(config, lease, signal, undo) {
      const kind = config.enableNFTables ? 'nftables' : 'iptables';
      const tlog = log.forComponent(`traffic:${kind}`);
      const tm = createTrafficManager({ kind, log, ...(runner ? { runner } : {}) });
      const nets = trafficNetworksFor(config, lease);
      const changed: string[] = [];
      try {
        if (options.iptablesForwardRules) changed.push(...(await tm.ensureForwardRules(nets, signal)));
        if (options.ipMasq) changed.push(...(await tm.ensureMasqRules(nets, { fullyRandom: options.ipMasqFullyRandom }, signal)));
      } catch (err) {
        // Part of the rules may be in: take them out rather than leave a half-configured firewall.
        if (!signal.aborted) await tm.cleanUp(AbortSignal.timeout(30_000)).catch((e: unknown) => tlog.warn(`could not remove the partly installed ${kind} rules: ${describeError(e)}`));
        throw err;
      }
      if (changed.length > 0) undo?.add(`remove flannel's ${kind} rules`, (undoSignal) => tm.cleanUp(undoSignal));
      if (!options.iptablesForwardRules && !options.ipMasq) {
        tlog.info('no traffic rules requested (--ip-masq=false, --iptables-forward-rules=false)');
        return async () => undefined;
      }
      tlog.info(`installed ${[options.iptablesForwardRules && 'forward', options.ipMasq && 'masquerade'].filter(Boolean).join(' and ')} rules with ${kind}`);
      return (runSignal) => runResyncLoop(tm, options.iptablesResyncSeconds * 1000, runSignal, tlog, observe);
    },
  };
}
