/**
 * @module kernel/errno
 * Kernel failures become KernelError with `code` = the errno name ("EEXIST") and a message naming
 * the operation and the object: `create link flannel.1: EEXIST (File exists)`.
 */
import { constants } from 'node:os';
import { KernelError } from '../errors/index.ts';

// glibc's strerror wording, which is what `ip` prints and operators recognise.
const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  E2BIG: 'Argument list too long',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  ENOSPC: 'No space left on device',
  ERANGE: 'Numerical result out of range',
  ENODATA: 'No data available',
  EPROTONOSUPPORT: 'Protocol not supported',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  EMSGSIZE: 'Message too long',
};

const HINTS: Record<string, string> = {
  EPERM: 'run flanneld as root or with CAP_NET_ADMIN',
  EACCES: 'run flanneld as root or with CAP_NET_ADMIN',
  EOPNOTSUPP: 'the kernel lacks this feature (is the vxlan module available?)',
  ETIMEDOUT: 'the kernel did not answer; netlink replies may have been dropped under load',
};

const NAMES_BY_NUMBER = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return NAMES_BY_NUMBER.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

export function errnoDescription(name: string): string {
  return DESCRIPTIONS[name] ?? name;
}

/** Builds the KernelError for a failed `op` on `object` with errno `name`. */
export function kernelError(op: string, object: string, name: string, cause?: unknown): KernelError {
  const hint = HINTS[name];
  return new KernelError(name, `${op} ${object}: ${name} (${errnoDescription(name)})`, {
    ...(hint ? { hint } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** True when `err` is a KernelError for one of the errno names. */
export function isKernelErrno(err: unknown, ...names: string[]): boolean {
  return err instanceof KernelError && names.includes(err.code);
}

/**
 * Extracts the errno name from what the netlink package throws: an ERROR reply is
 * `Error("Request rejected: EEXIST")` (no errno property), a failed sendmsg/recvmsg an
 * ErrnoException with `code`, an expired request timer `Error("Timeout has been reached")`.
 */
export function errnoFromNetlink(err: unknown): string {
  if (!(err instanceof Error)) return 'EUNKNOWN';
  const rejected = /^Request rejected: (\w+)/.exec(err.message);
  if (rejected?.[1]) return /^\d+$/.test(rejected[1]) ? errnoName(Number(rejected[1])) : rejected[1];
  if (/Timeout has been reached/.test(err.message)) return 'ETIMEDOUT';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}
