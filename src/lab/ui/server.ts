/**
 * @module lab/ui/server
 * The `lab ui` web server: the page (static files from ./public, no build step), the lab's
 * snapshot as JSON and as SVG, server-sent events whenever the lab changes, and the actions the
 * page offers (probe the matrix again, run doctor, trace a pod pair's path).
 *
 * It listens on 127.0.0.1 only. The actions run commands as root, so a request that changes
 * something must carry the page's own header (a cross-site form cannot), and every request must
 * name this server in Host (a DNS-rebinding page cannot).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describeError } from '../../errors/index.ts';
import { Cluster, programArgv } from '../cluster.ts';
import { labDoctor } from '../lab-doctor.ts';
import { loadPods, type LabPod } from '../lab-pods.ts';
import type { LabAddress } from '../hints.ts';
import { tracePath } from './path.ts';
import { readSnapshot, snapshotKey } from './snapshot.ts';
import type { LabSnapshot, SnapshotDoctor } from './snapshot-types.ts';
import { renderTopologySvg } from './svg.ts';

const PUBLIC = new URL('./public/', import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
/** The header every state-changing request of the page carries. */
export const ACTION_HEADER = 'x-flannel-lab-ui';

export interface LabUiOptions {
  readonly lab: LabAddress;
  readonly port: number;
  /** How often the lab is read again to notice changes (ms); a 100-node lab is read less often. */
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
}

type Current = { kind: 'up'; snapshot: LabSnapshot; cluster: Cluster; pods: LabPod[] } | { kind: 'down'; message: string };

export class LabUiServer {
  private readonly o: LabUiOptions;
  private readonly http: Server;
  private current: Current = { kind: 'down', message: 'not read yet' };
  /** What the page was last sent (snapshotKey, or the down message). */
  private shownKey = '';
  private doctor: SnapshotDoctor | null = null;
  private doctorRunning: Promise<void> | undefined;
  /** What the last doctor run saw of the faults and flanneld: when it changes, doctor runs again. */
  private doctorBasis = '';
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private port = 0;

  constructor(o: LabUiOptions) {
    this.o = o;
    this.http = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.send(res, 500, 'application/json', JSON.stringify({ error: describeError(err) })));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<string> {
    this.refresh();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.o.port, '127.0.0.1', () => resolve());
    });
    const address = this.http.address();
    this.port = typeof address === 'object' && address ? address.port : this.o.port;
    this.schedule();
    return this.url;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.doctorRunning;
  }

  private schedule(): void {
    const nodes = this.current.kind === 'up' ? this.current.cluster.nodes.length : 1;
    const every = this.o.pollMs ?? Math.max(1500, nodes * 40);
    this.timer = setTimeout(() => {
      this.refresh();
      if (this.timer) this.schedule();
    }, every);
  }

  /** Reads the lab again; tells the page when something changed, and runs doctor when faults or flanneld changed. */
  private refresh(): void {
    let next: Current;
    try {
      const cluster = Cluster.load(this.o.lab.stateDir);
      const pods = loadPods(this.o.lab.stateDir);
      next = { kind: 'up', cluster, pods, snapshot: readSnapshot(cluster, pods, { doctor: this.doctor }) };
    } catch (err) {
      next = { kind: 'down', message: `lab "${this.o.lab.name}" is not up (${describeError(err).split('\n')[0]}); build it with "${this.o.lab.cli} lab up"` };
    }
    this.current = next;
    const key = next.kind === 'up' ? snapshotKey(next.snapshot) : `down: ${next.message}`;
    if (key !== this.shownKey) {
      this.shownKey = key;
      this.broadcast();
    }
    if (next.kind === 'up') {
      const basis = JSON.stringify(next.snapshot.nodes.map((n) => [n.name, n.flanneld, n.faults]));
      if (basis !== this.doctorBasis) {
        this.doctorBasis = basis;
        void this.runDoctor();
      }
    }
  }

  private broadcast(): void {
    const payload = this.eventPayload();
    for (const c of this.clients) c.write(payload);
  }

  private eventPayload(): string {
    const c = this.current;
    return c.kind === 'up' ? `event: snapshot\ndata: ${JSON.stringify(c.snapshot)}\n\n` : `event: down\ndata: ${JSON.stringify({ message: c.message })}\n\n`;
  }

  private runDoctor(): Promise<void> {
    if (this.doctorRunning) return this.doctorRunning.then(() => this.runDoctor());
    const c = this.current;
    if (c.kind !== 'up') return Promise.resolve();
    this.doctorRunning = labDoctor(c.cluster, c.cluster.nodes)
      .then((report) => {
        this.doctor = { at: new Date().toISOString(), report };
      })
      .catch((err: unknown) => this.o.log?.(`doctor could not run: ${describeError(err)}`))
      .finally(() => {
        this.doctorRunning = undefined;
        this.refresh();
      });
    return this.doctorRunning;
  }

  /** `lab check`, as its user runs it: it probes every pair and writes matrix.json, which the page then shows. */
  private runCheck(): Promise<{ exitCode: number | null; output: string }> {
    const [cmd = process.execPath, ...args] = programArgv('flannel-ts');
    const child = spawn(cmd, [...args, 'lab', '--name', this.o.lab.name, '--state-dir', this.o.lab.stateDir, 'check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exitCode) => {
        this.refresh();
        resolve({ exitCode, output });
      });
    });
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    if (res.headersSent) return void res.end();
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    this.send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) return this.json(res, 421, { error: `this server answers to 127.0.0.1:${this.port}, not "${host}"` });
    const isPost = req.method === 'POST';
    if (isPost && req.headers[ACTION_HEADER] !== '1') return this.json(res, 403, { error: `actions need the ${ACTION_HEADER} header the page sends` });
    if (!isPost && req.method !== 'GET') return this.json(res, 405, { error: `${req.method ?? '?'} is not served here` });
    const page = STATIC[url.pathname];
    if (page && !isPost) return this.send(res, 200, page.type, readFileSync(new URL(page.file, PUBLIC)));
    const c = this.current;
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /api/snapshot':
        return c.kind === 'up' ? this.json(res, 200, c.snapshot) : this.json(res, 503, { error: c.message });
      case 'GET /api/topology.svg':
        return c.kind === 'up' ? this.send(res, 200, 'image/svg+xml', await renderTopologySvg(c.snapshot)) : this.json(res, 503, { error: c.message });
      case 'GET /api/events':
        return this.events(res);
      case 'GET /api/path': {
        if (c.kind !== 'up') return this.json(res, 503, { error: c.message });
        const from = url.searchParams.get('from') ?? '';
        const to = url.searchParams.get('to') ?? '';
        try {
          return this.json(res, 200, tracePath(c.cluster, c.pods, from, to));
        } catch (err) {
          return this.json(res, 400, { error: describeError(err) });
        }
      }
      case 'POST /api/check':
        return this.json(res, 200, await this.runCheck());
      case 'POST /api/doctor':
        await this.runDoctor();
        return this.json(res, 200, { doctor: this.doctor });
      default:
        return this.json(res, 404, { error: `nothing at ${url.pathname}` });
    }
  }

  private events(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(this.eventPayload());
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }
}
