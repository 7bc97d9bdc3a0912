/**
 * @module tun/device
 * A TUN device (IFF_TUN, no packet information header: the kernel hands over bare IP packets),
 * created with a name pattern such as "flannel%d" (the kernel picks the first free number). It is
 * not persistent: closing its descriptor, or the process ending, removes the device with its
 * addresses and routes, so a crash leaves nothing behind.
 */
import { BackendError } from '../errors/index.ts';
import { isAddonSystemError, type TunAddon } from './addon.ts';

export interface TunDevice {
  readonly name: string;
  readonly fd: number;
  /** Closes the descriptor, which removes the device; idempotent. */
  close(): void;
}

export const TUN_PATH = '/dev/net/tun';

export function openTun(addon: TunAddon, pattern: string): TunDevice {
  let opened: { fd: number; name: string };
  try {
    opened = addon.openTun(pattern);
  } catch (err) {
    throw tunError(err, pattern);
  }
  let open = true;
  return {
    name: opened.name,
    fd: opened.fd,
    close() {
      if (!open) return;
      open = false;
      addon.closeFd(opened.fd);
    },
  };
}

function tunError(err: unknown, pattern: string): unknown {
  if (!isAddonSystemError(err)) return err;
  const opening = err.syscall === 'open';
  switch (err.code) {
    case 'ENOENT':
      return new BackendError('E_BACKEND_UNAVAILABLE', `cannot create the TUN device ${pattern}: ${TUN_PATH} does not exist`, {
        hint: `load the tun kernel module (modprobe tun); if ${TUN_PATH} is still missing, create it (mkdir -p /dev/net && mknod ${TUN_PATH} c 10 200); in a container, give it the host's ${TUN_PATH}`,
        cause: err,
        explainsCause: true,
      });
    case 'ENODEV':
    case 'ENXIO':
      return new BackendError('E_BACKEND_UNAVAILABLE', `cannot create the TUN device ${pattern}: ${TUN_PATH} exists but the kernel has no TUN driver (${err.code})`, {
        hint: 'load the tun kernel module (modprobe tun)',
        cause: err,
        explainsCause: true,
      });
    case 'EPERM':
    case 'EACCES':
      return new BackendError('E_BACKEND_UNAVAILABLE', `cannot create the TUN device ${pattern}: ${opening ? `opening ${TUN_PATH}` : 'TUNSETIFF'} was refused (${err.code}): flanneld needs CAP_NET_ADMIN`, {
        hint: `run flanneld as root or with CAP_NET_ADMIN${opening ? `, with read/write access to ${TUN_PATH}` : ''}`,
        cause: err,
        explainsCause: true,
      });
    default:
      return new BackendError('E_TUN_OPEN', `cannot create the TUN device ${pattern}: ${err.message}`, { cause: err, explainsCause: true });
  }
}
