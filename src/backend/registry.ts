/**
 * @module backend/registry
 * Backends are passed in explicitly (no side-effect registration), looked up by lower-cased type.
 */
import { BackendError } from '../errors/index.ts';
import type { BackendFactory } from './backend.ts';

export interface BackendRegistry {
  readonly types: readonly string[];
  get(type: string): BackendFactory;
}

export function createBackendRegistry(factories: readonly BackendFactory[]): BackendRegistry {
  const byType = new Map<string, BackendFactory>();
  for (const f of factories) {
    const t = f.type.toLowerCase();
    if (byType.has(t)) throw new BackendError('E_BACKEND_DUPLICATE', `backend type "${t}" is registered twice`);
    byType.set(t, f);
  }
  const types = [...byType.keys()];
  return {
    types,
    get(type) {
      const f = byType.get(type.toLowerCase());
      if (!f) {
        throw new BackendError('E_BACKEND_UNAVAILABLE', `backend type "${type}" is not available in this build of flannel-ts (available: ${types.join(', ')})`, {
          hint: 'set Backend.Type in the network configuration to one of the available types',
        });
      }
      return f;
    },
  };
}
