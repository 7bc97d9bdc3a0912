/**
 * @module traffic
 * Host traffic rules behind one TrafficManager, with an iptables and an nftables engine. Both shell
 * out through a RuleRunner: execRunner() by default, netnsRunner(ns) inside a namespace, or
 * recordingRunner() in tests.
 */
import type { Logger } from '../log/index.ts';
import { IptablesEngine } from './iptables/engine.ts';
import { EngineTrafficManager } from './manager.ts';
import { NftablesEngine } from './nftables/engine.ts';
import { execRunner, type RuleRunner } from './runner.ts';
import type { TrafficKind, TrafficManager } from './traffic-manager.ts';

export type { TrafficKind, TrafficManager, TrafficNetworks, FamilyNetworks, FamilyKey, MasqOptions } from './traffic-manager.ts';
export { runResyncLoop, DEFAULT_RESYNC_MS, type ResyncOutcome } from './resync-loop.ts';
export { execRunner, netnsRunner, type RuleRunner, type RunResult, type RunOptions } from './runner.ts';
export { recordingRunner, type RecordingRunner, type RecordedCall, type Responder } from '../exec/index.ts';

export interface TrafficManagerOptions {
  kind: TrafficKind;
  /** Default: execRunner() (commands run in our own network namespace). */
  runner?: RuleRunner;
  log: Logger;
}

export function createTrafficManager(options: TrafficManagerOptions): TrafficManager {
  const runner = options.runner ?? execRunner();
  const log = options.log.forComponent(`traffic:${options.kind}`);
  const engine = options.kind === 'iptables' ? new IptablesEngine(runner, log) : new NftablesEngine(runner, log);
  return new EngineTrafficManager(engine, log);
}
