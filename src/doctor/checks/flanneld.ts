/**
 * @module doctor/checks/flanneld
 * flanneld.process: a flanneld runs in this network namespace; flanneld.health: its /healthz and
 * /readyz answer 200.
 */
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { HttpProbe, NodeFacts } from '../facts.ts';
import { restartFlanneld } from './common.ts';

function processCheck(f: NodeFacts): CheckResult {
  const id = 'flanneld.process';
  const ps = f.flanneld.processes;
  if (ps.length === 0) {
    return fail(id, 'no flanneld process in this network namespace', `start it: ${restartFlanneld(f)}; its log says why it stopped`);
  }
  const text = ps.map((p) => `pid ${p.pid}: ${p.argv.join(' ')}`);
  if (ps.length > 1) {
    return warn(id, `${ps.length} flanneld processes: ${text.join('; ')}`, `keep one: kill ${ps.slice(1).map((p) => p.pid).join(' ')} (two daemons fight over the same devices and lease)`);
  }
  return ok(id, text[0] ?? '');
}

function probeText(path: string, p: HttpProbe): string {
  if (p.status === undefined) return `${path}: ${p.error ?? 'no answer'}`;
  const body = p.body?.trim().split('\n')[0]?.slice(0, 160);
  return `${path}: ${p.status}${body ? ` ${body}` : ''}`;
}

function healthCheck(f: NodeFacts): CheckResult {
  const id = 'flanneld.health';
  const h = f.flanneld.healthz;
  if (!h) return skip(id, 'no --healthz-port: flanneld serves no health endpoint');
  const saw = `${h.url} ${probeText('/healthz', h.healthz)}, ${probeText('/readyz', h.readyz)}`;
  if (h.healthz.status === 200 && h.readyz.status === 200) return ok(id, saw);
  if (h.healthz.status === undefined) {
    return fail(id, saw, `nothing answers on ${h.url}: flanneld is not running (see flanneld.process) or listens elsewhere (--healthz-ip/--healthz-port); ${restartFlanneld(f)}`);
  }
  if (h.healthz.status === 200) {
    return fail(id, saw, `flanneld runs but is not ready: the /readyz answer says why (usually the datastore or its lease); read its log, then ${restartFlanneld(f)}`);
  }
  return fail(id, saw, `flanneld reports itself unhealthy: read its log, then ${restartFlanneld(f)}`);
}

export const flanneldChecks: CheckSpec[] = [
  { id: 'flanneld.process', summary: 'a flanneld process runs in this network namespace (exactly one)', run: processCheck },
  { id: 'flanneld.health', summary: "flanneld's /healthz and /readyz answer 200 (skipped without --healthz-port)", run: healthCheck },
];
