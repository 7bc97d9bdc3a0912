/**
 * @module backend/wireguard/data-path
 * The two ways a WireGuard device exists: kernel WireGuard (a link of kind "wireguard", configured
 * over generic netlink) and wireguard-go (a TUN that lives as long as the process we supervise,
 * configured over its UAPI socket). Both end in the same `onReady` callback, where the backend
 * gives the device its keys, peers, address and route: once for the kernel, after every
 * (re)start for wireguard-go.
 */
import { BackendError, isAbortError } from '../../errors/index.ts';
import { isKernelErrno, type Links } from '../../kernel/index.ts';
import type { Logger } from '../../log/index.ts';
import type { WireguardControl } from '../../wireguard/types.ts';
import type { WireguardImplementation } from './config.ts';

export interface DeviceHandle {
  /** True when this start created the device (undo deletes it, or stops wireguard-go). */
  readonly created: boolean;
  /** Settles once the device is no longer supervised (after the signal aborted). */
  readonly stopped: Promise<void>;
}

export interface DataPath {
  readonly kind: 'kernel' | 'userspace';
  readonly control: WireguardControl;
  /**
   * Makes the device `name` exist and calls `onReady` once it can be configured (again after every
   * restart of a userspace device); resolves after the first `onReady` succeeded.
   */
  start(name: string, onReady: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<DeviceHandle>;
}

/** How the backend finds its data paths: production wiring (compose.ts) or fakes in tests. */
export interface DataPaths {
  /** Kernel WireGuard, or why this kernel has none. */
  kernel(): Promise<DataPath | { unavailable: string }>;
  /** wireguard-go, or why it cannot run (not installed...). */
  userspace(log: Logger): Promise<DataPath | { unavailable: string; hint?: string }>;
}

/** A kernel data path over a Links capability and a WireguardControl (generic netlink, or a fake). */
export function kernelDataPath(links: Links, control: WireguardControl): DataPath {
  return {
    kind: 'kernel',
    control,
    async start(name, onReady, signal) {
      const existing = await links.getLink(name);
      if (existing && existing.kind !== 'wireguard') {
        throw new BackendError('E_WIREGUARD_DEVICE', `${name} exists but is a ${existing.kind ?? 'plain'} device, not a WireGuard device`, {
          hint: `delete it (ip link del ${name}) and restart flanneld`,
        });
      }
      let created = false;
      if (!existing) {
        try {
          await links.createLink({ kind: 'wireguard', name });
          created = true;
        } catch (err) {
          if (isKernelErrno(err, 'EOPNOTSUPP')) throw new BackendError('E_BACKEND_UNAVAILABLE', `the kernel refused a WireGuard device ${name} (no wireguard module?)`, { cause: err, hint: 'set "Implementation": "userspace" in the Backend section (needs wireguard-go), or load the wireguard module' });
          throw err;
        }
      }
      await onReady(signal);
      return { created, stopped: Promise.resolve() };
    },
  };
}

/** Picks the data path the Backend section asks for, saying in the log which one and why. */
export async function chooseDataPath(implementation: WireguardImplementation, paths: DataPaths, log: Logger): Promise<DataPath> {
  if (implementation !== 'userspace') {
    const k = await paths.kernel();
    if ('control' in k) {
      log.info('WireGuard data path: kernel (generic netlink)');
      return k;
    }
    if (implementation === 'kernel') {
      throw new BackendError('E_BACKEND_UNAVAILABLE', `Backend.Implementation is "kernel" but this kernel has no WireGuard: ${k.unavailable}`, {
        hint: 'load the wireguard module (Linux 5.6 and later), or set "Implementation": "auto" or "userspace" to use wireguard-go',
      });
    }
    const u = await paths.userspace(log);
    if ('control' in u) {
      log.info(`WireGuard data path: userspace (wireguard-go), because the kernel has none: ${k.unavailable}`);
      return u;
    }
    throw new BackendError('E_BACKEND_UNAVAILABLE', `no WireGuard data path: the kernel has none (${k.unavailable}) and ${u.unavailable}`, u.hint ? { hint: u.hint } : {});
  }
  const u = await paths.userspace(log);
  if ('control' in u) {
    log.info('WireGuard data path: userspace (wireguard-go), as Backend.Implementation asks');
    return u;
  }
  throw new BackendError('E_BACKEND_UNAVAILABLE', `Backend.Implementation is "userspace" but ${u.unavailable}`, u.hint ? { hint: u.hint } : {});
}

export function ignoreAbort(err: unknown): void {
  if (!isAbortError(err)) throw err;
}
