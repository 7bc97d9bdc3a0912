/**
 * @module subnet/kube/errors
 * Maps Kubernetes client failures (HTTP status, connection errors) onto DatastoreError codes the
 * daemon and the watch loop branch on. AbortError passes through untouched.
 */
import { DatastoreError, isAbortError } from '../../errors/index.ts';
import { StatusSchema } from './schema.ts';

export const E_KUBE_UNAVAILABLE = 'E_KUBE_UNAVAILABLE';
export const E_KUBE_AUTH = 'E_KUBE_AUTH';
export const E_KUBE_FORBIDDEN = 'E_KUBE_FORBIDDEN';
export const E_KUBE_NOT_FOUND = 'E_KUBE_NOT_FOUND';
export const E_KUBE_GONE = 'E_KUBE_GONE';
export const E_KUBE_WATCH = 'E_KUBE_WATCH';
export const E_KUBE_REQUEST = 'E_KUBE_REQUEST';
export const E_KUBE_RESPONSE = 'E_KUBE_RESPONSE';

/** What flannel's ClusterRole must grant (upstream's kube-flannel.yml). */
export const RBAC_HINT =
  "flanneld's service account needs: nodes get/list/watch, nodes/status patch, pods get (the ClusterRole \"flannel\" of kube-flannel.yml)";

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  // ApiException carries the HTTP status as a number `code`; system errors have string codes.
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/** The API server's own words from an error body (a metav1.Status), when there are any. */
function serverMessage(err: unknown): string | undefined {
  let body: unknown = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    const text = body.trim();
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text === '' ? undefined : text.slice(0, 300);
    }
  }
  const parsed = StatusSchema.safeParse(body);
  return parsed.success ? parsed.data.message : undefined;
}

function systemMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  // node-fetch's FetchError: "request to http://... failed, reason: connect ECONNREFUSED ..."
  const reason = /reason: (.*)$/.exec(err.message)?.[1];
  return reason ?? (typeof code === 'string' ? `${code}: ${err.message}` : err.message);
}

/** Wraps `err` from the request named `what` (e.g. "get node node1") against `server`. */
export function toDatastoreError(err: unknown, server: string, what: string): unknown {
  if (isAbortError(err) || err instanceof DatastoreError) return err;
  const status = statusOf(err);
  const said = serverMessage(err);
  const detail = said ? `: ${said}` : '';
  switch (status) {
    case undefined:
      return new DatastoreError(E_KUBE_UNAVAILABLE, `cannot reach the Kubernetes API at ${server} (${what}): ${systemMessage(err)}`, {
        hint: 'check that the API server is up and reachable from this node, and the server in --kubeconfig-file / --kube-api-url (in a pod: KUBERNETES_SERVICE_HOST/PORT); flanneld keeps retrying',
        cause: err,
      });
    case 401:
      return new DatastoreError(E_KUBE_AUTH, `the Kubernetes API at ${server} rejected flanneld's credentials (HTTP 401 Unauthorized) on ${what}${detail}`, {
        hint: 'give flanneld a valid token: the user in --kubeconfig-file, or the service account token mounted in the pod (/var/run/secrets/kubernetes.io/serviceaccount/token)',
        cause: err,
      });
    case 403:
      return new DatastoreError(E_KUBE_FORBIDDEN, `the Kubernetes API at ${server} refused ${what} (HTTP 403 Forbidden)${detail}`, { hint: RBAC_HINT, cause: err });
    case 404:
      return new DatastoreError(E_KUBE_NOT_FOUND, `${what}: not found at ${server}${detail}`, { cause: err });
    case 410:
      return new DatastoreError(E_KUBE_GONE, `${what}: the resource version is too old (HTTP 410 Gone)${detail}`, { cause: err });
    default:
      return new DatastoreError(E_KUBE_REQUEST, `the Kubernetes API at ${server} failed ${what} (HTTP ${status})${detail}`, {
        hint: 'look at the API server logs; flanneld keeps retrying',
        cause: err,
      });
  }
}

export function isKubeError(err: unknown, code: string): boolean {
  return err instanceof DatastoreError && err.code === code;
}
