/**
 * @module subnet/etcd/options
 * Options of the etcd subnet manager (upstream's --etcd-* flags) and their translation into an
 * etcd3 client configuration: endpoints, TLS files, password auth, per-call deadlines.
 */
import { readFileSync } from 'node:fs';
import type { IOptions } from 'etcd3';
import { ConfigError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import type { Registry } from './registry.ts';

export const DEFAULT_PREFIX = '/coreos.com/network';
export const DEFAULT_LEASE_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

export interface EtcdConnectionOptions {
  /** e.g. ["http://127.0.0.1:2379"]; a bare host:port gets http:// (https:// when TLS files are given). */
  endpoints: readonly string[];
  keyFile?: string;
  certFile?: string;
  caFile?: string;
  username?: string;
  password?: string;
  /** Deadline of one etcd request (default 5000 ms): an unreachable etcd fails within about this. */
  requestTimeoutMs?: number;
}

export interface EtcdSubnetManagerOptions extends EtcdConnectionOptions {
  /** Key prefix, upstream's --etcd-prefix (default /coreos.com/network). */
  prefix?: string;
  /** TTL of the etcd lease attached to our subnet key (default 86400 s, as upstream). */
  leaseTTLSeconds?: number;
  /** Used as given: pass a component logger, e.g. log.forComponent('subnet:etcd'). */
  log?: Logger;
  /** Clock seam (ms since epoch), for lease expirations. */
  now?: () => number;
  /** Random seam in [0, 1), for subnet choice. */
  random?: () => number;
  /** Delays between watch / list retries while etcd is unreachable (default 250 ms doubling to 10 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Seam: use this registry instead of connecting with etcd3 (the connection options are then only used in messages). */
  registry?: Registry;
  /** Told when the lease watch is connected (a listing succeeded) and when it broke and retries: metrics show it. */
  onWatchState?: (up: boolean) => void;
}

function hasScheme(endpoint: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint);
}

export function normaliseEndpoints(options: EtcdConnectionOptions): string[] {
  const tls = Boolean(options.caFile || options.certFile || options.keyFile);
  const endpoints = options.endpoints.map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) {
    throw new ConfigError('E_ETCD_ENDPOINTS', 'no etcd endpoint given', { hint: 'set --etcd-endpoints, e.g. http://127.0.0.1:2379' });
  }
  return endpoints.map((e) => (hasScheme(e) ? e : `${tls ? 'https' : 'http'}://${e}`));
}

export function normalisePrefix(prefix: string | undefined): string {
  const p = (prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
  return p.startsWith('/') || p === '' ? p : `/${p}`;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError('E_ETCD_TLS', `cannot read ${flag} ${file}: ${(err as Error).message}`, {
      hint: `check the path given to ${flag} and that flanneld may read it`,
      cause: err,
    });
  }
}

export function buildClientOptions(options: EtcdConnectionOptions): IOptions {
  const hosts = normaliseEndpoints(options);
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new ConfigError('E_ETCD_TLS', 'an etcd client certificate needs both --etcd-certfile and --etcd-keyfile', {
      hint: 'give both files, or neither',
    });
  }
  const out: IOptions = {
    hosts,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    grpcOptions: {
      // Notice a dead TCP peer (etcd host gone without a FIN) on the watch stream.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    },
  };
  if (options.caFile !== undefined || options.certFile !== undefined) {
    const ca = options.caFile === undefined ? undefined : readPem(options.caFile, '--etcd-cafile');
    out.credentials = {
      // grpc.credentials.createSsl takes null for "system roots", which etcd3's type does not admit.
      rootCertificate: ca ?? (null as unknown as Buffer),
      ...(options.keyFile !== undefined ? { privateKey: readPem(options.keyFile, '--etcd-keyfile') } : {}),
      ...(options.certFile !== undefined ? { certChain: readPem(options.certFile, '--etcd-certfile') } : {}),
    };
  }
  if (options.username !== undefined && options.username !== '') {
    out.auth = { username: options.username, password: options.password ?? '' };
  }
  return out;
}
