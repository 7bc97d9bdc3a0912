/**
 * @module backend/udp/io
 * The udp backend's one seam to the operating system: the TUN device, the UDP socket and the
 * pump that moves packets between them and the packet path's buffers. nativeUdpIo() is the real
 * one (native/tun through src/tun); tests pass a fake that moves packets in memory and stands
 * the device in for a FakeKernel link.
 */
import type { IPAddress } from '../../ip/index.ts';
import { loadTunAddon, NATIVE_COUNTERS, openTun, openUdpSocket, type NativeCounter, type TunAddon, type TunDevice, type UdpSocket } from '../../tun/index.ts';
import type { PacketPath } from './packet-path.ts';

export type { TunDevice, UdpSocket };

export interface Pump {
  /** What the system side counted so far (packets read, sent, dropped by the kernel...). */
  counters(): Record<NativeCounter, number>;
  stop(): void;
}

export interface UdpIo {
  /** Creates a TUN device named by `pattern` ("flannel%d"); BackendError when the system cannot. */
  openTun(pattern: string): TunDevice;
  openSocket(address: IPAddress, port: number): UdpSocket;
  /** Starts moving packets: device → path.onTun → socket, socket → path.onUdp → device. */
  startPump(tun: TunDevice, socket: UdpSocket, port: number, path: PacketPath): Pump;
  /** Writes single packets to the device (the packet path's ICMP replies). */
  writer(tun: TunDevice): (packet: Uint8Array, length: number) => void;
}

export function nativeUdpIo(load: () => TunAddon = loadTunAddon): UdpIo {
  return {
    openTun: (pattern) => openTun(load(), pattern),
    openSocket: (address, port) => openUdpSocket(load(), address, port),
    startPump(tun, socket, port, path) {
      const addon = load();
      const counters = new Float64Array(NATIVE_COUNTERS.length);
      const handle = addon.pumpStart({
        tunFd: tun.fd,
        udpFd: socket.fd,
        port,
        slot: path.slot,
        batch: path.batch,
        tunRx: path.tunRx,
        tunRxLen: path.tunRxLen,
        txAddr: path.txAddr,
        udpRx: path.udpRx,
        udpRxLen: path.udpRxLen,
        counters,
        onTun: path.onTun,
        onUdp: path.onUdp,
      });
      let running = true;
      return {
        counters: () => countersOf(counters),
        stop() {
          if (!running) return;
          running = false;
          addon.pumpStop(handle);
        },
      };
    },
    writer(tun) {
      const addon = load();
      return (packet, length) => void addon.writeTun(tun.fd, packet, length);
    },
  };
}

export function countersOf(values: Float64Array): Record<NativeCounter, number> {
  const out = {} as Record<NativeCounter, number>;
  NATIVE_COUNTERS.forEach((name, i) => (out[name] = values[i] ?? 0));
  return out;
}
