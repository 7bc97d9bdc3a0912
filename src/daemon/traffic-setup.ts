/**
 * @module daemon/traffic-setup
 * The daemon's view of traffic rules: install them for a lease, then keep them in place.
 */
import type { NetworkConfig } from '../config/index.ts';
import type { UndoRegistry } from '../async/index.ts';
import type { Lease } from '../lease/index.ts';

export interface TrafficSetup {
  /** Installs rules for `lease`; returns the resync loop to run until shutdown. */
  /**
   * Installs rules for `lease`; returns the resync loop to run until shutdown. Rules it had to
   * add are recorded in `undo`; a failed install removes what it added before rejecting.
   */
  install(config: NetworkConfig, lease: Lease, signal: AbortSignal, undo?: UndoRegistry): Promise<(signal: AbortSignal) => Promise<void>>;
}
