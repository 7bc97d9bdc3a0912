/**
 * @module backend/testing/memory-subnets
 * An in-memory SubnetManager for backend tests: hands out a fixed lease, records what was asked,
 * and lets the test push peer changes into every open watch.
 */
import type { NetworkConfig } from '../../config/index.ts';
import type { Cidr } from '../../ip/index.ts';
import { leaseId, type Lease, type LeaseEvent } from '../../lease/index.ts';
import type { AcquireOptions, SubnetManager, WatchResult } from '../../subnet/index.ts';

export interface MemorySubnetsOptions {
  config: NetworkConfig;
  /** The subnet(s) acquireLease hands out. */
  subnet?: Cidr;
  ipv6Subnet?: Cidr;
  peers?: Lease[];
}

class Channel {
  readonly #queue: WatchResult[] = [];
  #wake: (() => void) | undefined;

  push(r: WatchResult): void {
    this.#queue.push(r);
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *drain(signal: AbortSignal): AsyncGenerator<WatchResult> {
    const onAbort = (): void => this.#wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const next = this.#queue.shift();
        if (next) yield next;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

export class MemorySubnets implements SubnetManager {
  readonly name = 'memory';
  readonly acquired: AcquireOptions[] = [];
  readonly #o: MemorySubnetsOptions;
  readonly #peers = new Map<string, Lease>();
  readonly #channels = new Set<Channel>();

  constructor(options: MemorySubnetsOptions) {
    this.#o = options;
    for (const p of options.peers ?? []) this.#peers.set(leaseId(p), p);
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    return this.#o.config;
  }

  async acquireLease(options: AcquireOptions): Promise<Lease> {
    this.acquired.push(options);
    return {
      ...(this.#o.subnet ? { subnet: this.#o.subnet } : {}),
      ...(this.#o.ipv6Subnet ? { ipv6Subnet: this.#o.ipv6Subnet } : {}),
      attrs: options.attrs,
      expiration: new Date(Date.now() + 86_400_000),
    };
  }

  async renewLease(lease: Lease): Promise<Lease> {
    return { ...lease, expiration: new Date(Date.now() + 86_400_000) };
  }

  async *watchLeases(signal: AbortSignal): AsyncGenerator<WatchResult> {
    const ch = new Channel();
    this.#channels.add(ch);
    ch.push({ kind: 'snapshot', leases: [...this.#peers.values()] });
    try {
      yield* ch.drain(signal);
    } finally {
      this.#channels.delete(ch);
    }
  }

  /** Adds or changes peers, delivered to watchers as one batch of events. */
  add(...leases: Lease[]): void {
    this.#publish(leases.map((lease) => ({ type: 'added', lease })));
  }

  remove(...leases: Lease[]): void {
    this.#publish(leases.map((lease) => ({ type: 'removed', lease })));
  }

  /** Delivers the current peer set as a snapshot, as after a re-list. */
  resnapshot(): void {
    for (const ch of this.#channels) ch.push({ kind: 'snapshot', leases: [...this.#peers.values()] });
  }

  get watchers(): number {
    return this.#channels.size;
  }

  #publish(events: LeaseEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'added') this.#peers.set(leaseId(ev.lease), ev.lease);
      else this.#peers.delete(leaseId(ev.lease));
    }
    for (const ch of this.#channels) ch.push({ kind: 'events', events });
  }

  async close(): Promise<void> {}
}
