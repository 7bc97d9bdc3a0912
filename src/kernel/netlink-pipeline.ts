/**
 * @module kernel/netlink-pipeline
 * Pipelined rtnetlink requests on one socket, batched the way libmnl batches: requests issued in
 * the same tick are written with one sendmsg(), and only the last message of a batch asks for an
 * ACK. The kernel handles a socket's messages in order and answers a message without NLM_F_ACK
 * only when it fails, so the ACK (or any later answer) proves every earlier message succeeded.
 * That saves a reply, a recvmsg() and a JS callback per successful request. We use the `netlink`
 * package's socket, but not its one-request-one-ACK `request()`.
 *
 * The receive buffer must never overflow: netlink 0.3.0 aborts the whole process when a socket
 * reports an error through poll() (its PollHandler builds an exception with a NULL syscall name).
 * So what may be in flight is bounded by the answers the buffer can hold.
 */
import { createNetlink, Flags, MessageType, parseError, type NetlinkMessage, type NetlinkSocket } from 'netlink';
import { endianness } from 'node:os';
import type { Logger } from '../log/index.ts';
import { errnoName } from './errno.ts';

export interface PipelineOptions {
  /** Most messages sent and not yet answered. */
  window: number;
  /** Most messages per sendmsg(). */
  batch: number;
  timeoutMs: number;
  recvBufferSize: number;
  logger: Logger;
  /**
   * True while this process listens to notifications: requests then go out in small batches with
   * an event-loop turn between them, so a notification socket (drained 32 messages per turn by
   * the package) keeps up with the notifications our own changes cause.
   */
  paced: () => boolean;
}

/** Why a request failed: an errno name, as the kernel (or the socket) reported it. */
export class NetlinkRequestError extends Error {
  readonly errno: string;
  constructor(errno: string, message = errno) {
    super(message);
    this.errno = errno;
  }
}

// Receive-buffer cost of one answer (skb truesize), measured on 6.18 via /proc/net/netlink:
// an error echoing a request 832 bytes, an RTM_NEWLINK reply 2304. Rounded up for safety.
const ERROR_ANSWER_BYTES = 1024;
const REPLY_ANSWER_BYTES = 4608;
/** While notifications are listened to, at most this many requests go out per event-loop turn. */
const PACED_BATCH = 16;

interface Pending {
  seq: number;
  type: number;
  flags: number;
  payload: Uint8Array[];
  /** A GET answers even on success; a change is silent unless it fails. */
  expectsReply: boolean;
  resolve: (reply: NetlinkMessage | undefined) => void;
  reject: (err: NetlinkRequestError) => void;
  timer?: NodeJS.Timeout;
}

export class NetlinkPipeline {
  private readonly socket: NetlinkSocket;
  private readonly port: number;
  private readonly options: PipelineOptions;
  /** Half the receive buffer: room for answers to what is in flight, the rest is slack. */
  private readonly budget: number;
  private seq = 1;
  private readonly queued: Pending[] = [];
  /** Sent and unanswered, in sequence order (a Map keeps insertion order, also across seq wrap). */
  private readonly sent = new Map<number, Pending>();
  private sentBytes = 0;
  private flushScheduled = false;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(options: PipelineOptions) {
    this.options = options;
    this.socket = createNetlink(0 /* NETLINK_ROUTE */, { recvBufferSize: options.recvBufferSize, sendBufferSize: 0 });
    this.port = this.socket.address().port;
    this.budget = Math.floor(this.socket.getRecvBufferSize() / 2);
    this.socket.on('message', (msgs) => msgs.forEach((m) => this.onMessage(m)));
    // Without a listener an 'error' would be thrown from the event loop.
    this.socket.on('error', (err) => this.onSocketError(err));
  }

  /** Sends one request; resolves with the answer to a GET, undefined for a successful change. */
  request(type: number, flags: number, payload: Uint8Array[], expectsReply = false): Promise<NetlinkMessage | undefined> {
    if (this.closed) return Promise.reject(new NetlinkRequestError('ECLOSED', 'the netlink socket is closed'));
    return new Promise((resolve, reject) => {
      this.queued.push({ seq: 0, type, flags, payload, expectsReply, resolve, reject });
      this.scheduleFlush();
    });
  }

  get pending(): number {
    return this.queued.length + this.sent.size;
  }

  /** Waits for every request to be answered, then closes the socket. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.socket.close();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      this.flush();
    };
    if (this.options.paced()) setImmediate(run);
    else queueMicrotask(run);
  }

  private flush(): void {
    const paced = this.options.paced();
    let allowance = paced ? PACED_BATCH : Infinity;
    while (this.queued.length > 0 && allowance > 0) {
      const batch: Pending[] = [];
      let bytes = this.sentBytes;
      for (const p of this.queued) {
        const cost = answerBytes(p);
        const empty = this.sent.size === 0 && batch.length === 0;
        if (!empty && (bytes + cost > this.budget || this.sent.size + batch.length >= this.options.window)) break;
        if (batch.length >= Math.min(this.options.batch, allowance)) break;
        batch.push(p);
        bytes += cost;
      }
      if (batch.length === 0) break;
      this.queued.splice(0, batch.length);
      allowance -= batch.length;
      this.sendBatch(batch);
    }
    if (paced && this.queued.length > 0 && allowance === 0) this.scheduleFlush();
    this.socket.ref(this.sent.size > 0);
  }

  private sendBatch(batch: Pending[]): void {
    let total = 0;
    for (const p of batch) total += align4(16 + payloadLength(p.payload));
    // One contiguous buffer: the package turns every array element into a separate N-API buffer.
    const buf = Buffer.alloc(total);
    let offset = 0;
    batch.forEach((p, i) => {
      p.seq = this.nextSeq();
      const last = i === batch.length - 1;
      const flags = p.flags | Flags.REQUEST | (last && !p.expectsReply ? Flags.ACK : 0);
      offset = frame(buf, offset, p.type, flags, p.seq, this.port, p.payload);
      this.sent.set(p.seq, p);
      this.sentBytes += answerBytes(p);
    });
    const tail = batch[batch.length - 1];
    if (!tail) return;
    tail.timer = setTimeout(() => this.failThrough(tail.seq, new NetlinkRequestError('ETIMEDOUT')), this.options.timeoutMs);
    this.socket.socket.send(buf, {}, (err) => {
      if (err) this.failThrough(tail.seq, new NetlinkRequestError(err.code || 'EIO', err.message));
    });
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq % 0xffffffff) + 1;
    return s;
  }

  private onMessage(msg: NetlinkMessage): void {
    const p = this.sent.get(msg.seq);
    if (!p) return; // e.g. a request that already timed out
    this.completeBefore(msg.seq);
    this.finish(p);
    if (msg.type === MessageType.ERROR) {
      const errno = parseError(msg.data, msg.flags).errno;
      if (errno === 0) p.resolve(undefined);
      else p.reject(new NetlinkRequestError(errnoName(errno)));
    } else {
      p.resolve(msg);
    }
    this.afterProgress();
  }

  /** The kernel has handled everything sent before `seq`. */
  private completeBefore(seq: number): void {
    for (const p of this.sent.values()) {
      if (p.seq === seq) break;
      this.finish(p);
      // Cannot happen while the buffer does not overflow: a GET's reply comes before later answers.
      if (p.expectsReply) p.reject(new NetlinkRequestError('ENODATA', 'the kernel did not answer'));
      else p.resolve(undefined);
    }
  }

  private onSocketError(err: Error & { code?: string }): void {
    this.options.logger.warn('netlink request socket error', { error: err.message });
    // Answers may have been dropped: a later ACK must not vouch for requests that failed.
    const last = [...this.sent.keys()].pop();
    if (last !== undefined) this.failThrough(last, new NetlinkRequestError(err.code || 'EIO', `${err.message}; the outcome is unknown`));
  }

  private failThrough(seq: number, err: NetlinkRequestError): void {
    for (const p of [...this.sent.values()]) {
      this.finish(p);
      p.reject(err);
      if (p.seq === seq) break;
    }
    this.afterProgress();
  }

  private finish(p: Pending): void {
    this.sent.delete(p.seq);
    this.sentBytes -= answerBytes(p);
    if (p.timer) clearTimeout(p.timer);
  }

  private afterProgress(): void {
    if (this.queued.length > 0) this.scheduleFlush();
    else this.socket.ref(this.sent.size > 0);
    if (this.pending === 0) this.idle?.();
  }
}

function answerBytes(p: Pending): number {
  return p.expectsReply ? REPLY_ANSWER_BYTES : ERROR_ANSWER_BYTES;
}

const LITTLE_ENDIAN = endianness() === 'LE';

function payloadLength(payload: Uint8Array[]): number {
  let n = 0;
  for (const b of payload) n += b.length;
  return n;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Writes one nlmsghdr + payload at `offset`; returns where the next (4-byte aligned) message starts. */
function frame(out: Buffer, offset: number, type: number, flags: number, seq: number, port: number, payload: Uint8Array[]): number {
  const len = 16 + payloadLength(payload);
  // Netlink headers are in host byte order.
  if (LITTLE_ENDIAN) {
    out.writeUInt32LE(len, offset);
    out.writeUInt16LE(type, offset + 4);
    out.writeUInt16LE(flags, offset + 6);
    out.writeUInt32LE(seq, offset + 8);
    out.writeUInt32LE(port, offset + 12);
  } else {
    out.writeUInt32BE(len, offset);
    out.writeUInt16BE(type, offset + 4);
    out.writeUInt16BE(flags, offset + 6);
    out.writeUInt32BE(seq, offset + 8);
    out.writeUInt32BE(port, offset + 12);
  }
  let at = offset + 16;
  for (const b of payload) {
    out.set(b, at);
    at += b.length;
  }
  return offset + align4(len);
}
