/**
 * Starts the benchmark agent (agent.ts) inside a namespace and talks to it over stdin/stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AgentRequest } from './agent.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENT = fileURLToPath(new URL('./agent.ts', import.meta.url));

type Reply = { id: number; type: 'progress' | 'result' | 'error'; result?: unknown; error?: string };
/** A request without its id (the client numbers them). */
export type Request = AgentRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (msg: Reply) => void;
}

export class Agent {
  readonly ns: string;
  readonly #child: ChildProcess;
  readonly #waiters = new Map<number, Waiter>();
  #nextId = 1;
  #stderr = '';
  #exited: string | undefined;
  readonly ready: Promise<void>;

  private constructor(ns: string) {
    this.ns = ns;
    this.#child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', AGENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    this.#waiters.set(0, { resolve: () => readyResolve(), reject: () => undefined });
    const rl = createInterface({ input: this.#child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      let msg: Reply;
      try {
        msg = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      const w = this.#waiters.get(msg.id);
      if (!w) return;
      if (msg.type === 'progress') w.onProgress?.(msg);
      else {
        this.#waiters.delete(msg.id);
        if (msg.type === 'result') w.resolve(msg.result);
        else w.reject(new Error(`agent in ${ns}: ${msg.error}`));
      }
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = `agent in ${ns} exited (${signal ?? code}): ${this.#stderr.trim()}`;
      for (const w of this.#waiters.values()) w.reject(new Error(this.#exited));
      this.#waiters.clear();
    });
  }

  /** Starts an agent in `ns` and waits until it answers. */
  static async start(ns: string, timeoutMs = 30_000): Promise<Agent> {
    const a = new Agent(ns);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      a.ready,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`agent in ${ns} did not start: ${a.#stderr}`)), timeoutMs))),
      new Promise((_, reject) => a.#child.once('exit', () => reject(new Error(a.#exited ?? `agent in ${ns} exited`)))),
    ]).finally(() => clearTimeout(timer));
    return a;
  }

  request<T>(req: Request, onProgress?: (msg: Reply) => void): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(this.#exited));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#waiters.set(id, { resolve: (v) => resolve(v as T), reject, ...(onProgress ? { onProgress } : {}) });
      this.#child.stdin?.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Sends a request and resolves once the agent reports its first progress (e.g. "polling"), keeping the result promise. */
  requestStarted<T>(req: Request): { started: Promise<void>; result: Promise<T> } {
    let startedResolve!: () => void;
    const started = new Promise<void>((r) => (startedResolve = r));
    const result = this.request<T>(req, () => startedResolve());
    result.then(
      () => startedResolve(),
      () => startedResolve(),
    );
    return { started, result };
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
