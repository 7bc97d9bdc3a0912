/**
 * Starts the fake Kubernetes API server in a network namespace (kube-api-server-main.ts under
 * `ip netns exec`) and drives its test hooks over the child's stdin/stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JsonObject, NodeSpecInput } from './kube-api-server.ts';
import type { RemoteMethod } from './kube-api-server-main.ts';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

const MAIN = fileURLToPath(new URL('./kube-api-server-main.ts', import.meta.url));

export class RemoteKubeApi {
  readonly url: string;
  readonly token: string;
  readonly #child: ChildProcess;
  readonly #pending: Map<number, Pending>;
  #next = 1;
  #stderr = '';

  private constructor(child: ChildProcess, url: string, token: string, pending: Map<number, Pending>) {
    this.#child = child;
    this.#pending = pending;
    this.url = url;
    this.token = token;
  }

  static async start(o: { netns: string; host: string; port: number; token: string; timeoutMs?: number }): Promise<RemoteKubeApi> {
    const child = spawn('ip', ['netns', 'exec', o.netns, process.execPath, '--import', 'tsx', MAIN, '--host', o.host, '--port', String(o.port), '--token', o.token], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const pending = new Map<number, Pending>();
    const ready = new Promise<RemoteKubeApi>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake API server did not start in ${o.netns}: ${stderr}`)), o.timeoutMs ?? 20_000);
      child.once('exit', (code) => reject(new Error(`fake API server exited (${code}): ${stderr}`)));
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: { url: string; token: string }; id?: number; result?: unknown; error?: string };
        if (msg.ready) {
          clearTimeout(timer);
          resolve(new RemoteKubeApi(child, msg.ready.url, msg.ready.token, pending));
          return;
        }
        const p = msg.id === undefined ? undefined : pending.get(msg.id);
        if (!p || msg.id === undefined) return;
        pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      });
    });
    const r = await ready;
    r.#stderr = stderr;
    child.stderr?.on('data', (b: Buffer) => (r.#stderr += b.toString()));
    child.once('exit', () => {
      for (const p of pending.values()) p.reject(new Error(`fake API server exited: ${r.#stderr}`));
      pending.clear();
    });
    return r;
  }

  call(method: RemoteMethod, ...args: unknown[]): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin?.write(`${JSON.stringify({ id, method, args })}\n`);
    });
  }

  async addNode(spec: NodeSpecInput): Promise<JsonObject> {
    return (await this.call('addNode', spec)) as JsonObject;
  }
  async setPodCIDRs(name: string, cidrs: string[]): Promise<void> {
    await this.call('setPodCIDRs', name, cidrs);
  }
  async setAnnotations(name: string, patch: Record<string, string | null>): Promise<void> {
    await this.call('setAnnotations', name, patch);
  }
  async deleteNode(name: string): Promise<void> {
    await this.call('deleteNode', name);
  }
  async node(name: string): Promise<JsonObject | undefined> {
    return ((await this.call('node', name)) as JsonObject | null) ?? undefined;
  }

  /** Closes stdin (the child shuts down) and waits; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.stdin?.end();
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}
