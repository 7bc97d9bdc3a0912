/**
 * @module tun/socket
 * The udp backend's UDP socket: non-blocking, bound to one IPv4 address and port, with 4 MiB
 * send and receive buffers (past net.core.[rw]mem_max with CAP_NET_ADMIN), so a burst of a few
 * thousand packets waits in the kernel instead of being dropped while the event loop is busy.
 */
import { BackendError } from '../errors/index.ts';
import type { IPAddress } from '../ip/index.ts';
import { isAddonSystemError, type TunAddon } from './addon.ts';

export interface UdpSocket {
  readonly fd: number;
  close(): void;
}

export const SOCKET_BUFFER_BYTES = 4 << 20;

export function openUdpSocket(addon: TunAddon, address: IPAddress, port: number): UdpSocket {
  if (address.family !== 4) throw new BackendError('E_UDP_SOCKET', `the udp backend binds an IPv4 address, not ${address.toString()}`);
  let fd: number;
  try {
    fd = addon.openUdp(Number(address.value), port, SOCKET_BUFFER_BYTES);
  } catch (err) {
    throw socketError(err, address, port);
  }
  let open = true;
  return {
    fd,
    close() {
      if (!open) return;
      open = false;
      addon.closeFd(fd);
    },
  };
}

function socketError(err: unknown, address: IPAddress, port: number): unknown {
  if (!isAddonSystemError(err)) return err;
  const where = `${address.toString()}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new BackendError('E_BACKEND_UNAVAILABLE', `UDP port ${port} on ${address.toString()} is in use by another program`, {
        hint: `stop the program that holds it (ss -ulpn 'sport = :${port}' names it), or set Backend.Port to a free port (the same on every node)`,
        cause: err,
        explainsCause: true,
      });
    case 'EADDRNOTAVAIL':
      return new BackendError('E_BACKEND_UNAVAILABLE', `cannot bind UDP ${where}: ${address.toString()} is not an address of this node`, {
        hint: 'check --iface / --iface-regex: the udp backend binds the external interface\'s own address',
        cause: err,
        explainsCause: true,
      });
    case 'EACCES':
    case 'EPERM':
      return new BackendError('E_BACKEND_UNAVAILABLE', `cannot bind UDP ${where}: permission denied (${err.code})`, {
        hint: 'ports below 1024 need CAP_NET_BIND_SERVICE: run flanneld as root or choose Backend.Port 1024 or above',
        cause: err,
        explainsCause: true,
      });
    default:
      return new BackendError('E_UDP_SOCKET', `cannot open UDP ${where}: ${err.message}`, { cause: err, explainsCause: true });
  }
}
