import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION_HEADER, LabUiServer } from './server.ts';

/** One request to the server, with the headers given (Host defaults to the server's own). */
function call(port: number, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...o.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
        // An event stream never ends: its first event is enough.
        if (String(res.headers['content-type']).startsWith('text/event-stream') && body.includes('\n\n')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('LabUiServer without a lab', () => {
  let dir: string;
  let server: LabUiServer;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flt-ui-'));
    server = new LabUiServer({ lab: { cli: 'flannel-ts', name: 'nolab', stateDir: join(dir, 'state') }, port: 0, pollMs: 60_000 });
    port = Number(new URL(await server.start()).port);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page and its files from 127.0.0.1, as they are', async () => {
    const page = await call(port, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<script type="module" src="\/app\.js"><\/script>/);
    const app = await call(port, '/app.js');
    assert.equal(app.status, 200);
    assert.match(app.type, /^text\/javascript/);
    assert.match(app.body, /new EventSource\('\/api\/events'\)/);
    assert.equal((await call(port, '/style.css')).status, 200);
  });

  it('says the lab is not up, and how to build it, in the API and the event stream', async () => {
    const snap = await call(port, '/api/snapshot');
    assert.equal(snap.status, 503);
    assert.match((JSON.parse(snap.body) as { error: string }).error, /^lab "nolab" is not up \(.*\); build it with "flannel-ts lab up"$/);
    const events = await call(port, '/api/events');
    assert.match(events.type, /^text\/event-stream/);
    assert.match(events.body, /^event: down\ndata: \{"message":"lab \\"nolab\\" is not up/);
    assert.equal((await call(port, '/api/path?from=a&to=b')).status, 503);
  });

  it('refuses actions without the page header, other hosts, other methods, and unknown paths', async () => {
    const noHeader = await call(port, '/api/check', { method: 'POST' });
    assert.equal(noHeader.status, 403);
    assert.match(noHeader.body, new RegExp(ACTION_HEADER));
    const rebound = await call(port, '/api/snapshot', { headers: { host: `evil.example:${port}` } });
    assert.equal(rebound.status, 421);
    assert.equal((await call(port, '/api/snapshot', { method: 'DELETE' })).status, 405);
    assert.equal((await call(port, '/nothing')).status, 404);
    assert.equal((await call(port, '/', { method: 'POST', headers: { [ACTION_HEADER]: '1' } })).status, 404);
  });
});
