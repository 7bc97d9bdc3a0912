/**
 * @module backend/udp/testing/fake-addon
 * The native addon's contract in memory, for tests without root: TUN devices are FakeKernel
 * links, sockets are entries on a FakeWire, and a pump moves packets exactly as native/tun does
 * (a batch into the reused buffers, one JS call, then the sends or device writes the packet
 * path left). Everything above the addon (src/tun's error mapping, the io glue, the packet
 * path, the data plane) is the real code.
 */
import { IPAddress } from '../../../ip/index.ts';
import type { FakeKernel } from '../../../kernel/index.ts';
import { NATIVE_COUNTERS, type PumpHandle, type PumpOptions, type TunAddon } from '../../../tun/index.ts';

/** A system error as the addon throws it. */
export function systemError(code: string, syscall: string, cause?: unknown): Error {
  return Object.assign(new Error(`${syscall}: ${code}`, cause === undefined ? undefined : { cause }), { code, errno: 1, syscall });
}

export interface Datagram {
  readonly from: string;
  readonly to: string;
  readonly payload: Uint8Array;
}

/** Connects the fake sockets of several nodes: a datagram goes to whoever is bound to its address:port. */
export class FakeWire {
  readonly #bound = new Map<string, FakeTunAddon>();
  /** Everything sent, in order. */
  readonly sent: Datagram[] = [];

  bind(endpoint: string, addon: FakeTunAddon): void {
    if (this.#bound.has(endpoint)) throw systemError('EADDRINUSE', 'bind');
    this.#bound.set(endpoint, addon);
  }

  unbind(endpoint: string): void {
    this.#bound.delete(endpoint);
  }

  deliver(d: Datagram): void {
    this.sent.push(d);
    this.#bound.get(d.to)?.receive(d);
  }
}

interface Device {
  name: string;
  fd: number;
  /** The FakeKernel link's index (never reused, so a device deleted by hand is never confused with a new one of the same name). */
  index: number;
}

const IDX = Object.fromEntries(NATIVE_COUNTERS.map((n, i) => [n, i])) as Record<(typeof NATIVE_COUNTERS)[number], number>;

export class FakeTunAddon implements TunAddon {
  readonly counterCount = NATIVE_COUNTERS.length;
  readonly kernel: FakeKernel;
  readonly wire: FakeWire;
  /** Packets written to each device (by the pump or writeTun), by device name. */
  readonly written = new Map<string, Uint8Array[]>();
  /** Queue failures: the next openTun / openUdp throws this system error. */
  readonly failNext: { openTun?: Error; openUdp?: Error } = {};
  readonly #devices = new Map<number, Device>();
  readonly #sockets = new Map<number, string>();
  #pump: PumpOptions | undefined;
  #nextFd = 100;

  constructor(kernel: FakeKernel, wire: FakeWire = new FakeWire()) {
    this.kernel = kernel;
    this.wire = wire;
  }

  /** The running pump's options (undefined when none runs). */
  get pump(): PumpOptions | undefined {
    return this.#pump;
  }

  openTun(pattern: string): { fd: number; name: string } {
    const err = this.failNext.openTun;
    if (err) {
      delete this.failNext.openTun;
      throw err;
    }
    // The kernel picks the first free number; FakeKernel.addLink refuses a taken name.
    let name = pattern;
    let index = 0;
    for (let i = 0; ; i++) {
      name = pattern.replace('%d', String(i));
      try {
        index = this.kernel.addLink({ name, kind: 'tun', mtu: 1500, up: false, mac: '' }).index;
        break;
      } catch (err) {
        if (!pattern.includes('%d') || i > 100) throw systemError('EBUSY', 'ioctl TUNSETIFF', err);
      }
    }
    const fd = this.#nextFd++;
    this.#devices.set(fd, { name, fd, index });
    return { fd, name };
  }

  openUdp(address: number, port: number): number {
    const err = this.failNext.openUdp;
    if (err) {
      delete this.failNext.openUdp;
      throw err;
    }
    const endpoint = `${IPAddress.fromBigInt(4, BigInt(address)).toString()}:${port}`;
    this.wire.bind(endpoint, this);
    const fd = this.#nextFd++;
    this.#sockets.set(fd, endpoint);
    return fd;
  }

  closeFd(fd: number): void {
    const dev = this.#devices.get(fd);
    if (dev) {
      this.#devices.delete(fd);
      // Closing a non-persistent TUN removes it (if it was not deleted by hand already).
      this.kernel.deleteLink(dev.index).catch(() => undefined);
      return;
    }
    const endpoint = this.#sockets.get(fd);
    if (endpoint === undefined) throw systemError('EBADF', 'close');
    this.#sockets.delete(fd);
    this.wire.unbind(endpoint);
  }

  writeTun(fd: number, packet: Uint8Array, length: number): number {
    const dev = this.#devices.get(fd);
    if (!dev) return -9;
    this.#record(dev.name, packet.slice(0, length));
    return length;
  }

  pumpStart(options: PumpOptions): PumpHandle {
    if (this.#pump) throw new Error('FakeTunAddon: one pump at a time');
    this.#pump = options;
    return { fd: options.tunFd } as unknown as PumpHandle;
  }

  pumpStop(): void {
    this.#pump = undefined;
  }

  /** The device of the running pump. */
  get deviceName(): string | undefined {
    return this.#pump ? this.#devices.get(this.#pump.tunFd)?.name : undefined;
  }

  /** Packets the node's pods send into flannel0: read as one batch, as the native pump does. */
  fromTun(packets: readonly Uint8Array[]): void {
    const p = this.#pump;
    if (!p) throw new Error('FakeTunAddon: no pump running');
    const own = this.#sockets.get(p.udpFd) ?? '?';
    for (let start = 0; start < packets.length; start += p.batch) {
      const n = Math.min(p.batch, packets.length - start);
      for (let i = 0; i < n; i++) {
        const pkt = packets[start + i] as Uint8Array;
        const len = Math.min(pkt.length, p.slot);
        p.tunRx.set(pkt.subarray(0, len), i * p.slot);
        p.tunRxLen[i] = len;
        p.txAddr[i] = 0;
      }
      this.#count(p, 'tunReadPackets', n);
      this.#count(p, 'callbacks', 1);
      p.onTun(n);
      for (let i = 0; i < n; i++) {
        const addr = p.txAddr[i] as number;
        if (addr === 0) continue;
        const to = `${IPAddress.fromBigInt(4, BigInt(addr)).toString()}:${p.port}`;
        this.#count(p, 'udpSentPackets', 1);
        this.wire.deliver({ from: own, to, payload: p.tunRx.slice(i * p.slot, i * p.slot + (p.tunRxLen[i] as number)) });
      }
    }
  }

  /** A datagram arriving at this node's socket: received as a batch of one. */
  receive(d: Datagram): void {
    const p = this.#pump;
    if (!p) return; // not reading: the kernel would queue it; the tests never need that
    this.#count(p, 'udpRecvPackets', 1);
    const truncated = d.payload.length > p.slot;
    if (truncated) this.#count(p, 'udpRecvTruncated', 1);
    p.udpRx.set(d.payload.subarray(0, Math.min(d.payload.length, p.slot)), 0);
    p.udpRxLen[0] = truncated ? 0 : d.payload.length;
    this.#count(p, 'callbacks', 1);
    p.onUdp(1);
    const len = p.udpRxLen[0] as number;
    if (len <= 0) return;
    this.#count(p, 'tunWrittenPackets', 1);
    this.#record(this.#devices.get(p.tunFd)?.name ?? '?', p.udpRx.slice(0, len));
  }

  #count(p: PumpOptions, name: (typeof NATIVE_COUNTERS)[number], n: number): void {
    p.counters[IDX[name]] = (p.counters[IDX[name]] ?? 0) + n;
  }

  #record(device: string, packet: Uint8Array): void {
    let list = this.written.get(device);
    if (!list) this.written.set(device, (list = []));
    list.push(packet);
  }
}
