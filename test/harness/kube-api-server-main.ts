/**
 * Runs FakeKubeApiServer as its own process (so it can live in a network namespace) and serves
 * its test hooks over stdin/stdout, one JSON object per line:
 *   out  {"ready":{"url":..., "token":...}}            once listening
 *   in   {"id":1,"method":"setPodCIDRs","args":[...]}
 *   out  {"id":1,"result":...} | {"id":1,"error":"..."}
 * Exits when stdin closes, so it never outlives the test that started it.
 * argv: --host H --port P --token T [--rbac upstream|all]
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FakeKubeApiServer } from './kube-api-server.ts';

export const REMOTE_METHODS = [
  'addNode',
  'setPodCIDRs',
  'setAnnotations',
  'deleteNode',
  'addPod',
  'node',
  'nodeNames',
  'openWatches',
  'cutWatches',
  'compact',
  'expireWatches',
  'goneOnNextWatches',
  'setOutage',
  'setHang',
] as const;
export type RemoteMethod = (typeof REMOTE_METHODS)[number];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, token: { type: 'string' }, rbac: { type: 'string' } } });
  const server = await FakeKubeApiServer.start({
    host: values.host ?? '127.0.0.1',
    port: Number(values.port ?? 0),
    ...(values.token ? { token: values.token } : {}),
    rbac: values.rbac === 'all' ? 'all' : 'upstream',
  });
  const out = (obj: unknown): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
  out({ ready: { url: server.url, token: server.token } });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let msg: { id: number; method: string; args: unknown[] };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    try {
      if (!(REMOTE_METHODS as readonly string[]).includes(msg.method)) throw new Error(`unknown method ${msg.method}`);
      const fn = (server as unknown as Record<string, (...a: unknown[]) => unknown>)[msg.method] as (...a: unknown[]) => unknown;
      out({ id: msg.id, result: fn.apply(server, msg.args) ?? null });
    } catch (err) {
      out({ id: msg.id, error: (err as Error).message });
    }
  });
  rl.on('close', () => {
    void server.close().finally(() => process.exit(0));
  });
}

await main();
