/**
 * @module tun/addon
 * Loads native/tun (flannel_tun.node, built by `npm ci` through native/tun/build.mjs): the TUN
 * and UDP system calls of the udp backend, which Node cannot make itself (TUNSETIFF is an
 * ioctl; batch sendmmsg/recvmmsg and readiness on a character device have no Node API).
 * Loaded on first use only, so a build without the addon runs every other backend.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../errors/index.ts';

/** Opaque handle of a running pump. */
export type PumpHandle = { readonly __pump: unique symbol };

/** The buffers and callbacks a pump moves packets through; all allocated once by the caller. */
export interface PumpOptions {
  readonly tunFd: number;
  readonly udpFd: number;
  /** The UDP port of every peer (upstream sends to PublicIP:Port with its own Port). */
  readonly port: number;
  /** Bytes per packet slot in tunRx/udpRx. */
  readonly slot: number;
  /** Packets per batch. */
  readonly batch: number;
  readonly tunRx: Uint8Array;
  readonly tunRxLen: Int32Array;
  /** Next hop per packet of a TUN batch, host order; 0 = drop. */
  readonly txAddr: Uint32Array;
  readonly udpRx: Uint8Array;
  /** Length per packet of a UDP batch; JS sets 0 to drop. */
  readonly udpRxLen: Int32Array;
  /** NativeCounter-indexed counters the addon adds to. */
  readonly counters: Float64Array;
  readonly onTun: (count: number) => void;
  readonly onUdp: (count: number) => void;
}

export interface TunAddon {
  openTun(pattern: string): { fd: number; name: string };
  openUdp(address: number, port: number, bufferBytes: number): number;
  closeFd(fd: number): void;
  /** Writes one packet; the byte count, or -errno. */
  writeTun(fd: number, packet: Uint8Array, length: number): number;
  pumpStart(options: PumpOptions): PumpHandle;
  pumpStop(handle: PumpHandle): void;
  readonly counterCount: number;
}

/** What the addon counts (indexes into PumpOptions.counters), in its order. */
export const NATIVE_COUNTERS = [
  'tunReadPackets',
  'udpSentPackets',
  'udpSendDropped',
  'udpRecvPackets',
  'udpRecvTruncated',
  'tunWrittenPackets',
  'tunWriteDropped',
  'tunReadErrors',
  'udpRecvErrors',
  'callbacks',
] as const;
export type NativeCounter = (typeof NATIVE_COUNTERS)[number];

/** A system error from the addon: `code` is the errno name (ENOENT, EPERM...). */
export interface AddonSystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
}

export function isAddonSystemError(err: unknown): err is AddonSystemError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' && typeof (err as { syscall?: unknown }).syscall === 'string';
}

const ADDON_PATH = join('native', 'tun', 'build', 'Release', 'flannel_tun.node');

/** native/tun/build/... seen from this module: src/tun, dist/tun or a bundle chunk in dist/cli. */
export function findAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

let loaded: TunAddon | undefined;

export function loadTunAddon(): TunAddon {
  if (loaded) return loaded;
  const path = findAddon();
  if (!path) {
    throw new BackendError('E_BACKEND_UNAVAILABLE', `the udp backend's native addon (${ADDON_PATH}) is not built`, {
      hint: 'build it with `npm run build:native` in the flannel-ts directory (npm ci does it too; it needs g++, make and python3), or use another backend',
    });
  }
  try {
    loaded = createRequire(import.meta.url)(path) as TunAddon;
  } catch (err) {
    throw new BackendError('E_BACKEND_UNAVAILABLE', `the udp backend's native addon ${path} does not load: ${(err as Error).message}`, {
      hint: 'rebuild it for this Node with `npm run build:native`',
      cause: err,
      explainsCause: true,
    });
  }
  if (loaded.counterCount !== NATIVE_COUNTERS.length) {
    const count = loaded.counterCount;
    loaded = undefined;
    throw new BackendError('E_BACKEND_UNAVAILABLE', `the udp backend's native addon ${path} is from another version (${count} counters, expected ${NATIVE_COUNTERS.length})`, {
      hint: 'rebuild it with `npm run build:native`',
    });
  }
  return loaded;
}
