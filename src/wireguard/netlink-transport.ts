/**
 * @module wireguard/netlink-transport
 * The GenlTransport genetlink.ts talks through: a NETLINK_GENERIC socket of the `netlink` package,
 * used as a carrier only (we encode the messages ourselves, see genetlink.ts). The package's own
 * genl `request()` throws on an error reply ("Received reply with different family"), so requests
 * go through its plain netlink socket with error checking off, and errors are read here.
 */
import { createNetlink, FlagsGet, MessageType, parseError, Protocol, type NetlinkSocket } from 'netlink';
import { constants } from 'node:os';
import { GenlErrnoError, type GenlTransport } from './genetlink.ts';

const DEFAULT_TIMEOUT_MS = 5000;
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function genlHeader(cmd: number, version: number): Buffer {
  // struct genlmsghdr { u8 cmd; u8 version; u16 reserved; }
  return Buffer.from([cmd, version, 0, 0]);
}

export class NetlinkGenlTransport implements GenlTransport {
  readonly #socket: NetlinkSocket;
  readonly #timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // A dump is paced by our reads, so 1 MiB is room enough for any answer in flight.
    this.#socket = createNetlink(Protocol.GENERIC, { recvBufferSize: 1 << 20, sendBufferSize: 0 });
  }

  async request(family: number, cmd: number, version: number, attrs: Buffer, options: { dump: boolean; signal?: AbortSignal }): Promise<Buffer[]> {
    const { signal } = options;
    signal?.throwIfAborted();
    const pending = this.#socket.request(family, [genlHeader(cmd, version), attrs], {
      flags: options.dump ? FlagsGet.DUMP : 0,
      checkError: false,
      timeout: this.#timeoutMs,
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    let msgs;
    try {
      [msgs] = await Promise.race([pending, aborted]);
    } catch (err) {
      if (err instanceof Error && err.message === 'Timeout has been reached') {
        throw new GenlErrnoError('ETIMEDOUT');
      }
      throw err;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      pending.catch(() => undefined);
    }
    const out: Buffer[] = [];
    for (const m of msgs) {
      if (m.type === MessageType.ERROR) {
        const { errno } = parseError(m.data, m.flags);
        if (errno !== 0) throw new GenlErrnoError(ERRNO_NAMES.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`);
        continue;
      }
      if (m.type === MessageType.DONE || m.type === MessageType.NOOP) continue;
      out.push(m.data.subarray(4));
    }
    return out;
  }

  close(): void {
    this.#socket.close();
  }
}
