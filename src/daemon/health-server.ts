/**
 * @module daemon/health-server
 * /healthz answers 200 while the process runs; /readyz answers 200 only once the lease is held
 * and subnet.env is written (and 503 with the reason before that). /metrics, when given, serves the
 * Prometheus exposition.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthState {
  ready: boolean;
  /** Why we are not ready yet, shown by /readyz. */
  reason: string;
}

/** What /metrics serves (FlannelMetrics fits). */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(ip: string, port: number, state: HealthState, metrics?: MetricsEndpoint): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/healthz') return reply(200, 'ok\n');
    if (path === '/readyz') return state.ready ? reply(200, 'ok\n') : reply(503, `not ready: ${state.reason}\n`);
    if (path === '/metrics' && metrics) {
      metrics.render().then(
        (text) => reply(200, text, metrics.contentType),
        (err: unknown) => reply(500, `collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    reply(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
