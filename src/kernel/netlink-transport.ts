/**
 * @module kernel/netlink-transport
 * Two rtnetlink sockets: a NetlinkPipeline for requests (batched, many in flight) and one for
 * dumps, run one at a time. Dumps get their own socket so that answers to other requests never
 * arrive between the parts of a dump, and because the kernel refuses a second dump on a busy
 * socket (EBUSY). Dumps are read from the package's raw socket and handed over one message at a
 * time as each datagram arrives (see netlink-raw.ts): a listing is never held as a whole.
 */
import { AttrStream, RawNetlinkSocket, type NetlinkMessage } from 'netlink';
import { KernelError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { errnoName, kernelError } from './errno.ts';
import { notificationListeners } from './netlink-events.ts';
import { NetlinkPipeline, NetlinkRequestError } from './netlink-pipeline.ts';
import { align4, dumpRequest, i32, NLMSG_DONE, NLMSG_ERROR, u16, u32 } from './netlink-raw.ts';

export interface TransportOptions {
  /** Most requests sent and not yet answered (default 1024; fewer when the receive buffer is small). */
  window?: number;
  /** Requests written per sendmsg(). */
  batch?: number;
  /** A request not answered within this fails with ETIMEDOUT instead of hanging. */
  timeoutMs?: number;
  /** SO_RCVBUF of the request socket (the kernel caps it at net.core.rmem_max). */
  recvBufferSize?: number;
  logger?: Logger;
}

/** Receives one message of a dump: its type and payload (`len` bytes at `offset` of `buf`, valid only during the call). */
export type DumpVisitor = (type: number, buf: Buffer, offset: number, len: number) => void;

interface RunningDump {
  seq: number;
  visit: DumpVisitor;
  resolve: () => void;
  reject: (err: NetlinkRequestError) => void;
}

/** The object a failed operation names in its error; a function to skip formatting on success. */
export type Described = string | (() => string);

const RECV_BUFFER = 4 << 20;

export class RtTransport {
  private readonly pipeline: NetlinkPipeline;
  private readonly dumpSocket: RawNetlinkSocket;
  private readonly dumpPort: number;
  private readonly timeoutMs: number;
  private dumpSeq = 1;
  private running: RunningDump | undefined;
  private dumpTail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: TransportOptions = {}) {
    const logger = options.logger ?? silentLogger;
    const timeoutMs = options.timeoutMs ?? 30_000;
    this.pipeline = new NetlinkPipeline({
      window: options.window ?? 1024,
      batch: options.batch ?? 64,
      timeoutMs,
      recvBufferSize: options.recvBufferSize ?? RECV_BUFFER,
      logger,
      paced: () => notificationListeners() > 0,
    });
    this.timeoutMs = timeoutMs;
    this.dumpSocket = new RawNetlinkSocket(0 /* NETLINK_ROUTE */, { recvBufferSize: RECV_BUFFER, sendBufferSize: 0 });
    this.dumpSocket.unref();
    this.dumpSocket.on('message', (msg) => this.onDumpData(msg));
    this.dumpSocket.on('error', (err) => {
      logger.warn('netlink dump socket error', { error: err.message });
      // Parts of the running dump may have been dropped: it cannot be trusted.
      this.endDump(new NetlinkRequestError(err.code || 'EIO', `${err.message}; the listing is incomplete`));
    });
    this.dumpPort = this.dumpSocket.address().port;
  }

  /**
   * A change (NEW/DEL/SET): resolves when the kernel has applied it. The payload comes encoded
   * by the package (`encode`) or already as bytes (netlink-encode.ts, for the bulk requests).
   */
  async change(op: string, object: Described, type: number, flags: number, encode: ((out: AttrStream) => void) | Uint8Array): Promise<void> {
    await this.send(op, object, type, flags, encode, false);
  }

  /** A single GET: resolves with the kernel's answer. */
  async query(op: string, object: Described, type: number, encode: (out: AttrStream) => void): Promise<NetlinkMessage> {
    const reply = await this.send(op, object, type, 0, encode, true);
    if (!reply) throw kernelError(op, describe(object), 'ENODATA');
    return reply;
  }

  private async send(op: string, object: Described, type: number, flags: number, encode: ((out: AttrStream) => void) | Uint8Array, expectsReply: boolean): Promise<NetlinkMessage | undefined> {
    if (this.closed) throw closedError(op, object);
    let payload: Uint8Array[];
    if (encode instanceof Uint8Array) payload = [encode];
    else {
      const out = new AttrStream();
      encode(out);
      payload = out.bufs;
    }
    try {
      return await this.pipeline.request(type, flags, payload, expectsReply);
    } catch (err) {
      throw err instanceof NetlinkRequestError ? kernelError(op, describe(object), err.errno, err) : err;
    }
  }

  /**
   * Dumps `type` (RTM_GET*) for the family byte `family` (a family header of `headerBytes`, as the
   * kernel expects for that type), after every earlier dump has finished; `visit` sees each
   * message as it arrives.
   */
  dump(op: string, object: string, type: number, family: number, headerBytes: number, visit: DumpVisitor): Promise<void> {
    if (this.closed) return Promise.reject(closedError(op, object));
    const result = this.dumpTail.then(async () => {
      try {
        await this.runDump(type, family, headerBytes, visit);
      } catch (err) {
        throw err instanceof NetlinkRequestError ? kernelError(op, object, err.errno, err) : err;
      }
    });
    // Not result.catch(...): a failed dump must not fail the next one, and nothing is kept alive.
    this.dumpTail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** A dump collected into parsed package messages (links and addresses: a handful). */
  async dumpMessages<T>(op: string, object: string, type: number, family: number, headerBytes: number, parse: (payload: Buffer) => T): Promise<T[]> {
    const out: T[] = [];
    await this.dump(op, object, type, family, headerBytes, (_t, buf, offset, len) => out.push(parse(Buffer.from(buf.subarray(offset, offset + len)))));
    return out;
  }

  private runDump(type: number, family: number, headerBytes: number, visit: DumpVisitor): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const seq = this.dumpSeq;
      this.dumpSeq = (this.dumpSeq % 0xffffffff) + 1;
      const timer = setTimeout(() => this.endDump(new NetlinkRequestError('ETIMEDOUT')), this.timeoutMs);
      this.running = {
        seq,
        visit,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.dumpSocket.ref();
      this.dumpSocket.send(dumpRequest(type, seq, this.dumpPort, family, headerBytes), {}, (err) => {
        if (err) this.endDump(new NetlinkRequestError(err.code || 'EIO', err.message));
      });
    });
  }

  private endDump(err?: NetlinkRequestError): void {
    const d = this.running;
    if (!d) return;
    this.running = undefined;
    this.dumpSocket.unref();
    if (err) d.reject(err);
    else d.resolve();
  }

  private onDumpData(buf: Buffer): void {
    for (let o = 0; o + 16 <= buf.length; ) {
      const len = u32(buf, o);
      if (len < 16 || o + len > buf.length) break;
      const d = this.running;
      // Anything else is the tail of a dump that already failed or timed out.
      if (d && u32(buf, o + 8) === d.seq) {
        const type = u16(buf, o + 4);
        // DONE may carry the dump's error (e.g. EINTR) as a negative int.
        if (type === NLMSG_DONE) this.endDump(len >= 20 && i32(buf, o + 16) < 0 ? new NetlinkRequestError(errnoName(-i32(buf, o + 16))) : undefined);
        else if (type === NLMSG_ERROR) {
          const errno = len >= 20 ? -i32(buf, o + 16) : 0;
          this.endDump(errno === 0 ? undefined : new NetlinkRequestError(errnoName(errno)));
        } else {
          try {
            d.visit(type, buf, o + 16, len - 16);
          } catch (err) {
            this.endDump(new NetlinkRequestError('EINVAL', `decoding a dump failed: ${err instanceof Error ? err.message : String(err)}`));
          }
        }
      }
      o += align4(len);
    }
  }

  /** Waits for outstanding requests and dumps, then closes both sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pipeline.close();
    await this.dumpTail;
    this.dumpSocket.close();
  }
}

function describe(object: Described): string {
  return typeof object === 'function' ? object() : object;
}

function closedError(op: string, object: Described): KernelError {
  return new KernelError('ECLOSED', `${op} ${describe(object)}: the kernel connection is closed`);
}
