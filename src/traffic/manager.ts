/**
 * @module traffic/manager
 * The TrafficManager both engines share: it validates input, remembers what ensure* asked for
 * (per family and kind), serialises every operation (an ensure never interleaves with a resync)
 * and lets the engine compare and apply.
 */
import { TrafficError, describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { FamilyRules, RuleEngine, RuleKind } from './rule-engine.ts';
import { familyLabel } from './rule-engine.ts';
import {
  FAMILY_KEYS,
  type FamilyKey,
  type MasqOptions,
  type TrafficKind,
  type TrafficManager,
  type TrafficNetworks,
} from './traffic-manager.ts';

export class EngineTrafficManager implements TrafficManager {
  readonly #engine: RuleEngine;
  readonly #log: Logger;
  readonly #want: Record<FamilyKey, FamilyRules> = { v4: {}, v6: {} };
  #queue: Promise<unknown> = Promise.resolve();

  constructor(engine: RuleEngine, log: Logger) {
    this.#engine = engine;
    this.#log = log;
  }

  get kind(): TrafficKind {
    return this.#engine.kind;
  }

  ensureForwardRules(nets: TrafficNetworks, signal: AbortSignal): Promise<string[]> {
    validate(nets, 'forward');
    return this.#serial(async () => {
      const touched: FamilyKey[] = [];
      for (const fam of FAMILY_KEYS) {
        const n = nets[fam];
        const cur = this.#want[fam];
        if (n) cur.forward = n.network;
        else if (cur.forward !== undefined) cur.forward = 'absent';
        else continue;
        touched.push(fam);
      }
      return await this.#sync(touched, 'forward', signal);
    });
  }

  ensureMasqRules(nets: TrafficNetworks, opts: MasqOptions, signal: AbortSignal): Promise<string[]> {
    validate(nets, 'masq');
    if (opts.previous) validate(opts.previous, 'previous masq');
    return this.#serial(async () => {
      const touched: FamilyKey[] = [];
      for (const fam of FAMILY_KEYS) {
        const n = nets[fam];
        const cur = this.#want[fam];
        if (n) cur.masq = { network: n.network, podSubnet: n.podSubnet, fullyRandom: opts.fullyRandom };
        else if (cur.masq !== undefined || opts.previous?.[fam]) cur.masq = 'absent';
        else continue;
        touched.push(fam);
      }
      return await this.#sync(touched, 'masq', signal);
    });
  }

  resync(signal: AbortSignal): Promise<{ repaired: string[] }> {
    return this.#serial(async () => {
      const repaired: string[] = [];
      const failures: unknown[] = [];
      for (const fam of FAMILY_KEYS) {
        if (!managed(this.#want[fam])) continue;
        try {
          repaired.push(...(await this.#syncFamily(fam, signal)));
        } catch (err) {
          signal.throwIfAborted();
          failures.push(err);
        }
      }
      if (failures.length > 0) {
        if (repaired.length > 0) this.#log.info('repaired traffic rules', { kind: this.kind, repaired });
        throw aggregate(`${this.kind} resync failed`, failures);
      }
      return { repaired };
    });
  }

  cleanUp(signal: AbortSignal): Promise<void> {
    return this.#serial(async () => {
      // Forget the wanted state first: a resync racing with shutdown must not re-install.
      this.#want.v4 = {};
      this.#want.v6 = {};
      await this.#engine.cleanUp(signal);
      this.#log.info('removed flannel traffic rules', { kind: this.kind });
    });
  }

  /** Returns what was changed (empty when everything was in place already). */
  async #sync(families: FamilyKey[], focus: RuleKind, signal: AbortSignal): Promise<string[]> {
    const what = focus === 'masq' ? 'masquerade rules' : 'forward rules';
    const all: string[] = [];
    for (const fam of families) {
      const changed = await this.#syncFamily(fam, signal, focus);
      if (changed.length > 0) this.#log.info(`applied ${what}`, { kind: this.kind, family: familyLabel(fam), changed });
      else this.#log.debug(`${what} already in place`, { kind: this.kind, family: familyLabel(fam) });
      all.push(...changed);
    }
    return all;
  }

  async #syncFamily(fam: FamilyKey, signal: AbortSignal, focus?: RuleKind): Promise<string[]> {
    signal.throwIfAborted();
    const want = this.#want[fam];
    const changed = await this.#engine.sync(fam, { ...want }, signal, focus);
    // Removal done: stop watching what was removed.
    for (const kind of focus ? [focus] : (['masq', 'forward'] as const)) {
      if (want[kind] === 'absent') delete want[kind];
    }
    return changed.map((c) => `${this.kind} ${familyLabel(fam)} ${c}`);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function managed(r: FamilyRules): boolean {
  return r.masq !== undefined || r.forward !== undefined;
}

function validate(nets: TrafficNetworks, what: string): void {
  for (const fam of FAMILY_KEYS) {
    const n = nets[fam];
    if (!n) continue;
    const want = fam === 'v4' ? 4 : 6;
    for (const [name, cidr] of [
      ['network', n.network],
      ['podSubnet', n.podSubnet],
    ] as const) {
      if (cidr.family !== want) {
        throw new TrafficError('E_TRAFFIC_FAMILY', `${what}: ${fam}.${name} ${cidr.toString()} is not an IPv${want} network`);
      }
    }
  }
}

function aggregate(message: string, failures: unknown[]): TrafficError {
  const first = failures[0];
  if (failures.length === 1 && first instanceof TrafficError) return first;
  return new TrafficError('E_TRAFFIC_RESYNC', `${message}: ${failures.map(describeError).join('; ')}`, { cause: first });
}
