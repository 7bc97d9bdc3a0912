/**
 * @module backend/registry
 * The one list of backend types this build runs: backends are passed in explicitly (no
 * side-effect registration) and looked up by lower-cased type. The network config parser only
 * checks that Backend.Type is a string; whether it names a backend is said here.
 */
import { BackendError, ConfigError } from '../errors/index.ts';
import type { BackendFactory } from './backend.ts';

export interface BackendRegistry {
  readonly types: readonly string[];
  /** The factory for `type`; a ConfigError naming the available types when there is none. */
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
        const near = closest(type.toLowerCase(), types);
        throw new ConfigError('E_BACKEND_UNKNOWN', `Backend.Type "${type}" is not a backend flannel-ts runs (available: ${types.join(', ')})${near ? `; did you mean "${near}"?` : ''}`, {
          hint: 'set Backend.Type in the network configuration to one of the available types and restart flanneld',
        });
      }
      return f;
    },
  };
}

/** The type within two edits of `typed` (a typo such as "vxlna" or "hostgw"), if exactly one is. */
function closest(typed: string, types: readonly string[]): string | undefined {
  if (typed === '') return undefined;
  const near = types.filter((t) => editDistance(typed, t) <= 2);
  return near.length === 1 ? near[0] : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
