/**
 * @module backend/wireguard/greet
 * After a device (re)starts, its peers still hold sessions with the keys of the device's previous
 * life. They keep sending with those, the new device drops what they send, and they only notice
 * after WireGuard's rekey timeout (~15 s without an answer): pods on this node are unreachable
 * for that long after wireguard-go restarts or flanneld restarts with it. Greeting fixes that:
 * turning a peer's persistent keepalive on makes WireGuard (kernel and wireguard-go alike) send a
 * keepalive at once, which, having no session, starts a handshake; the peer then switches to the
 * new session within a round trip. The keepalive is put back as configured right after.
 *
 * Both WireGuards only send it while the device is up, which wireguard-go learns from the TUN
 * shortly after the link goes up: peers that did not complete a handshake since `since` are
 * greeted again a few times, with growing pauses.
 */
import { sleep } from '../../async/index.ts';
import type { WireguardControl } from '../../wireguard/types.ts';

export interface GreetOptions {
  readonly control: WireguardControl;
  readonly device: string;
  /** The keepalive the peers are configured with (seconds, 0 = off): what they get back. */
  readonly keepalive: number;
  /** Unix time (ms) the device started: a handshake after it is a greeting answered. */
  readonly since: number;
  readonly signal: AbortSignal;
  /** Pauses between rounds (default 200, 400, ... ms, 8 rounds). */
  readonly pausesMs?: readonly number[];
}

const DEFAULT_PAUSES_MS = [200, 400, 600, 800, 1000, 1500, 2000, 3000];

/** Greets every peer without a handshake since `since`; resolves with how many are still waiting. */
export async function greetPeers(o: GreetOptions): Promise<number> {
  let waiting: string[] = [];
  for (const pause of o.pausesMs ?? DEFAULT_PAUSES_MS) {
    const state = await o.control.get(o.device, o.signal);
    if (!state) return waiting.length;
    waiting = state.peers.filter((p) => p.lastHandshakeSec * 1000 < o.since - 1000).map((p) => p.publicKey);
    if (waiting.length === 0) return 0;
    const set = (seconds: number): Promise<void> => o.control.configure(o.device, { peers: waiting.map((publicKey) => ({ publicKey, allowedIPs: [], persistentKeepalive: seconds })) }, o.signal);
    // Off, then on: turning it on is what sends the keepalive; then back to what is configured.
    await set(0);
    await set(Math.max(1, o.keepalive));
    if (o.keepalive === 0) await set(0);
    await sleep(pause, o.signal);
  }
  return waiting.length;
}
