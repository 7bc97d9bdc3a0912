/**
 * @module kernel/netlink-transport
 * Two rtnetlink sockets: a NetlinkPipeline for requests (batched, many in flight) and one for
 * dumps, run one at a time. Dumps get their own socket because the `netlink` package groups
 * multipart replies per socket, so an answer to another request arriving between two parts of a
 * dump would break the dump; and the kernel refuses a second dump on a busy socket (EBUSY).
 */
import { AttrStream, createRtNetlink, type NetlinkMessage, type RtNetlinkSocket } from 'netlink';
import { KernelError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { errnoFromNetlink, kernelError } from './errno.ts';
import { notificationListeners } from './netlink-events.ts';
import { NetlinkPipeline, NetlinkRequestError } from './netlink-pipeline.ts';

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

export interface DumpOptions {
  flags: number;
  timeout: number;
  localPort: number;
}

/** The object a failed operation names in its error; a function to skip formatting on success. */
export type Described = string | (() => string);

const RECV_BUFFER = 4 << 20;

export class RtTransport {
  private readonly pipeline: NetlinkPipeline;
  private readonly dumpSocket: RtNetlinkSocket;
  private readonly dumpOptions: DumpOptions;
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
    this.dumpSocket = createRtNetlink({ recvBufferSize: RECV_BUFFER, sendBufferSize: 0 });
    this.dumpSocket.socket.on('error', (err) => logger.warn('netlink dump socket error', { error: err.message }));
    // Passing our port saves the package a getsockname() per message.
    this.dumpOptions = { flags: 0, timeout: timeoutMs, localPort: this.dumpSocket.socket.address().port };
  }

  /** A change (NEW/DEL/SET): resolves when the kernel has applied it. */
  async change(op: string, object: Described, type: number, flags: number, encode: (out: AttrStream) => void): Promise<void> {
    await this.send(op, object, type, flags, encode, false);
  }

  /** A single GET: resolves with the kernel's answer. */
  async query(op: string, object: Described, type: number, encode: (out: AttrStream) => void): Promise<NetlinkMessage> {
    const reply = await this.send(op, object, type, 0, encode, true);
    if (!reply) throw kernelError(op, describe(object), 'ENODATA');
    return reply;
  }

  private async send(op: string, object: Described, type: number, flags: number, encode: (out: AttrStream) => void, expectsReply: boolean): Promise<NetlinkMessage | undefined> {
    if (this.closed) throw closedError(op, object);
    const out = new AttrStream();
    encode(out);
    try {
      return await this.pipeline.request(type, flags, out.bufs, expectsReply);
    } catch (err) {
      throw err instanceof NetlinkRequestError ? kernelError(op, describe(object), err.errno, err) : err;
    }
  }

  /** Runs one dump after every earlier dump has finished. */
  dump<T>(op: string, object: string, run: (socket: RtNetlinkSocket, options: DumpOptions) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError(op, object));
    const result = this.dumpTail.then(async () => {
      try {
        return await run(this.dumpSocket, this.dumpOptions);
      } catch (err) {
        throw err instanceof KernelError ? err : kernelError(op, object, errnoFromNetlink(err), err);
      }
    });
    // Not result.catch(...): that would resolve with the listing and keep it alive until the next dump.
    this.dumpTail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Waits for outstanding requests and dumps, then closes both sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pipeline.close();
    await this.dumpTail;
    this.dumpSocket.socket.close();
  }
}

function describe(object: Described): string {
  return typeof object === 'function' ? object() : object;
}

function closedError(op: string, object: Described): KernelError {
  return new KernelError('ECLOSED', `${op} ${describe(object)}: the kernel connection is closed`);
}
