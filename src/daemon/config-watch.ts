/**
 * @module daemon/config-watch
 * flanneld reads the network configuration once, like upstream; changing it takes a restart on
 * every node. So that an edit is not silently without effect (or a broken one silently waiting
 * for the next restart), a change while running is validated and reported: nothing else changes.
 */
import { parseNetworkConfig, type NetworkConfig } from '../config/index.ts';
import { describeError, isAbortError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { SubnetManager } from '../subnet/index.ts';

export interface ConfigWatchOptions {
  subnets: SubnetManager;
  running: NetworkConfig;
  log: Logger;
  signal: AbortSignal;
  /** Validates the Backend section as flanneld would at start (the backend factory's checkConfig). */
  checkBackend?: (config: NetworkConfig) => void;
}

/** What makes two configurations behave the same (warnings and key spelling do not). */
export function effectiveConfig(c: NetworkConfig): string {
  const pool = (p: NetworkConfig['v4']): unknown => p && [p.network.toString(), p.subnetLen, p.subnetMin.toString(), p.subnetMax.toString()];
  const backend = Object.fromEntries(Object.entries(c.backend.raw).map(([k, v]) => [k.toLowerCase(), v]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return JSON.stringify([c.enableIPv4, c.enableIPv6, c.enableNFTables, pool(c.v4), pool(c.v6), c.backend.type, backend]);
}

/** Describes a changed configuration text as the operator should hear it; undefined when it behaves as the running one. */
export function judgeConfigChange(text: string | undefined, source: string, running: NetworkConfig, checkBackend?: (c: NetworkConfig) => void): string | undefined {
  if (text === undefined) return `network configuration (${source}) was deleted; keeping the running configuration (flanneld needs it again at its next start)`;
  let next: NetworkConfig;
  try {
    next = parseNetworkConfig(text, { source });
    checkBackend?.(next);
  } catch (err) {
    const message = err instanceof Error ? err.message.replace(`${source}: `, '') : String(err);
    return `network configuration changed (${source}) but is invalid: ${message}; keeping the running configuration`;
  }
  if (effectiveConfig(next) === effectiveConfig(running)) return undefined;
  return `network configuration changed (${source}); restart flanneld to apply it`;
}

export async function watchConfigChanges(o: ConfigWatchOptions): Promise<void> {
  if (!o.subnets.watchNetworkConfig) return;
  let last: string | undefined;
  try {
    for await (const change of o.subnets.watchNetworkConfig(o.signal)) {
      const verdict = judgeConfigChange(change.text, change.source, o.running, o.checkBackend);
      if (verdict !== undefined && verdict !== last) o.log.warn(verdict);
      last = verdict;
    }
  } catch (err) {
    if (o.signal.aborted || isAbortError(err)) return;
    // Reporting edits is a courtesy: its failure must not stop the data plane.
    o.log.warn(`stopped watching the network configuration: ${describeError(err)}`);
  }
}
