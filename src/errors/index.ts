/**
 * @module errors
 * Every failure flannel-ts reports to a user is a FlannelError: a stable `code` to branch on,
 * a `message` in the user's words and a `hint` saying what to do about it.
 */

export interface FlannelErrorOptions {
  hint?: string;
  cause?: unknown;
  /** The message already says in plain words what `cause` says (kept for debugging only). */
  explainsCause?: boolean;
  /** Retrying cannot mend it (a failing start-up command, a device that is someone else's): flanneld stops rather than retry. */
  permanent?: boolean;
}

export class FlannelError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly explainsCause: boolean;
  readonly permanent: boolean;

  constructor(code: string, message: string, options: FlannelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.explainsCause = options.explainsCause ?? false;
    this.permanent = options.permanent ?? false;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Invalid net-conf.json, flags or environment. */
export class ConfigError extends FlannelError {}
/** A lease could not be acquired, renewed or decoded. */
export class LeaseError extends FlannelError {}
/** The datastore (etcd, Kubernetes API) failed or returned something we cannot use. */
export class DatastoreError extends FlannelError {}
/** A netlink operation failed: carries the operation and the object. */
export class KernelError extends FlannelError {}
/** iptables / nftables rules could not be applied. */
export class TrafficError extends FlannelError {}
/** A backend could not set up or run its network. */
export class BackendError extends FlannelError {}
/** Input is not valid IP/CIDR syntax. */
export class IPParseError extends FlannelError {}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/** Formats an error and its cause chain for a log line or a terminal. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    const text = cur instanceof Error ? cur.message : String(cur);
    // A message that already quotes its cause ("...: 14 UNAVAILABLE: x") is not repeated.
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    cur = cur instanceof FlannelError && cur.explainsCause ? undefined : cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}

/**
 * A value's JSON for a message: cut at 100 characters, and never a throw (JSON.stringify throws a
 * RangeError on a value nested a few thousand levels deep, which JSON.parse reads fine).
 */
export function shortJson(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    return '(a value nested too deeply to print)';
  }
  return text.length > 100 ? `${text.slice(0, 100)}... (${text.length} characters)` : text;
}
