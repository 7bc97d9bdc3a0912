/**
 * @module subnet/etcd/errors
 * Maps etcd3 / gRPC failures onto DatastoreError codes the daemon can branch on. AbortError
 * passes through untouched.
 */
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdWatchStreamEnded,
  GRPCDeadlineExceededError,
  GRPCNotImplementedError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from 'etcd3';
import { DatastoreError, isAbortError } from '../../errors/index.ts';

export const E_ETCD_UNAVAILABLE = 'E_ETCD_UNAVAILABLE';
export const E_ETCD_AUTH = 'E_ETCD_AUTH';
export const E_ETCD_COMPACTED = 'E_ETCD_COMPACTED';
export const E_ETCD_WATCH = 'E_ETCD_WATCH';
export const E_ETCD_REQUEST = 'E_ETCD_REQUEST';

function isBrokenCircuit(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true;
}

function isUnavailable(err: unknown): boolean {
  return (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof EtcdWatchStreamEnded ||
    err instanceof ClientClosedError ||
    err instanceof GRPCNotImplementedError ||
    isBrokenCircuit(err)
  );
}

function isAuth(err: unknown): boolean {
  return (
    err instanceof GRPCUnauthenticatedError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof EtcdPermissionDeniedError
  );
}

/** The client's failure in an operator's words: no gRPC status codes, no client internals. */
export function plainReason(err: unknown): string | undefined {
  if (isBrokenCircuit(err)) return 'it failed the last requests, so the client waits a moment before trying again';
  if (err instanceof GRPCDeadlineExceededError) return 'the request timed out';
  if (err instanceof ClientClosedError) return 'the client was closed';
  if (!(err instanceof Error)) return undefined;
  const text = err.message.replace(/^\d+ [A-Z_]+: /, '');
  if (/ECONNREFUSED|connection refused/i.test(text)) return 'connection refused (is etcd running and listening there?)';
  if (/No connection established|failed to connect/i.test(text)) return 'no connection could be established';
  if (/Connection dropped|socket hang up|ECONNRESET/i.test(text)) return 'the connection was dropped';
  if (/deadline exceeded|timed? ?out/i.test(text)) return 'the request timed out';
  return text;
}

export function unavailableError(endpoints: readonly string[], what: string, cause?: unknown): DatastoreError {
  const reason = plainReason(cause);
  const detail = reason ? `: ${reason}` : '';
  return new DatastoreError(E_ETCD_UNAVAILABLE, `cannot reach etcd at ${endpoints.join(', ')} (${what})${detail}`, {
    hint: 'check that etcd is running and reachable from this node, and that --etcd-endpoints (and the TLS flags) are right; flanneld keeps retrying',
    cause,
    explainsCause: reason !== undefined,
  });
}

/** Wraps `err` from an etcd call named `what` (e.g. "list /coreos.com/network/subnets/"). */
export function toDatastoreError(err: unknown, endpoints: readonly string[], what: string): unknown {
  if (isAbortError(err) || err instanceof DatastoreError) return err;
  if (isUnavailable(err)) return unavailableError(endpoints, what, err);
  const msg = err instanceof Error ? err.message : String(err);
  if (isAuth(err)) {
    return new DatastoreError(E_ETCD_AUTH, `etcd at ${endpoints.join(', ')} refused ${what}: ${msg}`, {
      hint: 'check --etcd-username / --etcd-password or the client certificate, and that the etcd role may read and write the flannel prefix',
      cause: err,
    });
  }
  return new DatastoreError(E_ETCD_REQUEST, `etcd request failed (${what}) at ${endpoints.join(', ')}: ${plainReason(err) ?? msg}`, { cause: err, explainsCause: true });
}
