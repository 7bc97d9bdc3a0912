/**
 * @module doctor/gather/health
 * flanneld's health endpoint (--healthz-ip/--healthz-port): GET /healthz and /readyz, 5 s each.
 */
import { describeError } from '../../errors/index.ts';
import type { FlanneldFacts, HttpProbe } from '../facts.ts';

// Generous: a busy node (a big lab on 2 cores, a loaded CI machine) can take seconds to answer; 2 s made doctor call a live flanneld dead.
const TIMEOUT_MS = 5000;
const MAX_BODY = 2000;

/** The address to ask: a wildcard listen address is asked on loopback. */
export function healthBaseUrl(healthz: { readonly ip: string; readonly port: number }): string {
  const ip = healthz.ip === '0.0.0.0' || healthz.ip === '' ? '127.0.0.1' : healthz.ip === '::' ? '::1' : healthz.ip;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${healthz.port}`;
}

async function get(url: string): Promise<HttpProbe> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
    const body = (await res.text()).slice(0, MAX_BODY);
    return { status: res.status, body };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { error: `no answer within ${TIMEOUT_MS / 1000} s` };
    return { error: e.cause?.code === 'ECONNREFUSED' ? 'connection refused (nothing listens there)' : describeError(err) };
  }
}

/** undefined when health checks are off (no --healthz-port). */
export async function probeHealth(healthz: { readonly ip: string; readonly port: number } | undefined): Promise<FlanneldFacts['healthz']> {
  if (!healthz) return undefined;
  const url = healthBaseUrl(healthz);
  const [h, r] = await Promise.all([get(`${url}/healthz`), get(`${url}/readyz`)]);
  return { url, healthz: h, readyz: r };
}
