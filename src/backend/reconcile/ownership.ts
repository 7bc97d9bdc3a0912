/**
 * @module backend/reconcile/ownership
 * Which peer wants which kernel object. Several peers may want the same object (two leases with
 * one gateway, say); an object is deleted only when its last owner lets go. Kept small, since
 * thousands of entries live as long as the peers: almost every object has one owner, so an
 * owner's `peers` is that peer's id, an array only when several share it.
 */
import type { Lease } from '../../lease/index.ts';
import { sameDesired, type Desired } from '../kernel-objects.ts';

export interface PeerState {
  lease: Lease;
  /** The identity keys of `objects`, index for index. */
  keys: string[];
  objects: Desired[];
  /** Why (part of) the peer is not programmed, as one text; '' when nothing is wrong. */
  problems: string;
  /** Every object of the peer was last seen or installed as planned. */
  programmed: boolean;
}

export interface Owner {
  /** The map key, so peers' key lists can share the string instead of holding a copy each. */
  readonly key: string;
  desired: Desired;
  peers: string | string[];
  /** The full pass that last found the object in place. */
  seen: number;
}

export class OwnershipIndex {
  readonly #peers = new Map<string, PeerState>();
  readonly #owners = new Map<string, Owner>();

  get peerCount(): number {
    return this.#peers.size;
  }

  peer(id: string): PeerState | undefined {
    return this.#peers.get(id);
  }

  peers(): IterableIterator<[string, PeerState]> {
    return this.#peers.entries();
  }

  peerStates(): IterableIterator<PeerState> {
    return this.#peers.values();
  }

  owner(key: string): Owner | undefined {
    return this.#owners.get(key);
  }

  owners(): IterableIterator<[string, Owner]> {
    return this.#owners.entries();
  }

  /** The ids of the peers that want the object under `key`. */
  ownersOf(key: string): readonly string[] {
    const peers = this.#owners.get(key)?.peers ?? [];
    return typeof peers === 'string' ? [peers] : peers;
  }

  /**
   * Makes `state` peer `id`'s state (undefined: the peer is gone): lets go of the objects it no
   * longer wants, calling `released` for each one nobody wants any more, and claims the new ones.
   */
  replace(id: string, old: PeerState | undefined, state: PeerState | undefined, released: (key: string, o: Desired) => void): void {
    if (old) {
      old.keys.forEach((key, i) => {
        if (state?.keys.includes(key)) return;
        if (this.#release(id, key)) released(key, old.objects[i] as Desired);
      });
    }
    if (state) {
      state.keys.forEach((key, i) => (state.keys[i] = this.#claim(id, key, state.objects[i] as Desired)));
      this.#peers.set(id, state);
    } else {
      this.#peers.delete(id);
    }
  }

  /** Records that `id` wants `desired`; returns the owners' copy of `key`. */
  #claim(id: string, key: string, desired: Desired): string {
    const owner = this.#owners.get(key);
    if (!owner) {
      this.#owners.set(key, { key, desired, peers: id, seen: 0 });
      return key;
    }
    owner.desired = desired;
    if (owner.peers !== id && !(Array.isArray(owner.peers) && owner.peers.includes(id))) {
      owner.peers = Array.isArray(owner.peers) ? [...owner.peers, id] : [owner.peers, id];
    }
    return owner.key;
  }

  /** Drops `id`'s claim; true when nobody wants the object any more. */
  #release(id: string, key: string): boolean {
    const owner = this.#owners.get(key);
    if (!owner) return false;
    if (Array.isArray(owner.peers)) {
      const rest = owner.peers.filter((p) => p !== id);
      owner.peers = rest.length === 1 ? (rest[0] as string) : rest;
      if (rest.length > 0) return false;
    } else if (owner.peers !== id) {
      return false;
    }
    this.#owners.delete(key);
    return true;
  }
}

/** Both states want the same objects with the same values (in any order). */
export function sameObjects(a: PeerState, b: PeerState): boolean {
  if (a.keys.length !== b.keys.length) return false;
  return a.keys.every((key, i) => {
    const j = b.keys.indexOf(key);
    return j >= 0 && sameDesired(a.objects[i] as Desired, b.objects[j] as Desired);
  });
}
