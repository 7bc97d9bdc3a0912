/**
 * A real Prometheus (Debian's `prometheus`) scrapes every flanneld of a 3-node lab and its HTTP
 * API shows what the metrics promise: `up == 1` for each node, two IPv4 peers on each, and the
 * other nodes' datastore event counters moving when node3's lease is deleted and node3 comes
 * back with a new one (their peer count dips to 1 and returns to 2 on the way).
 *
 * Where things run: Prometheus runs inside the lab's switch namespace, listening on its
 * 127.0.0.1:9090, and scrapes each node's underlay address (192.168.50.1N:10256) across the
 * bridge, as a cluster's Prometheus scrapes hostNetwork pods on node IPs. The lab starts
 * flanneld with --healthz-ip=127.0.0.1; this test adds --healthz-ip=0.0.0.0 through the
 * cluster's extraFlanneldArgs (the last flag wins), which is what deploy/kube-flannel.yml runs
 * with, and which keeps 127.0.0.1:10256 (the lab's readiness probe) working. Nothing runs in,
 * or listens on, the root namespace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Cluster, ETCD_PREFIX, processExited, type LabNode } from '../../src/lab/cluster.ts';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

// Under CI=true a missing prometheus fails instead of skipping: scripts/setup.sh installs it.
const skip = skipUnlessPrivileged(['etcd', 'etcdctl', 'curl', 'prometheus']);

const HEALTHZ_PORT = 10256;
const PROMETHEUS = '127.0.0.1:9090';
const NODES = 3;

const QueryResponse = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })),
  }),
});

/** Prometheus' configuration: every node a static target labelled with its name, scraped each second. */
function prometheusConfig(nodes: readonly LabNode[]): string {
  const targets = nodes.map((n) => `      - targets: ['${n.underlayIP}:${HEALTHZ_PORT}']\n        labels: { node: ${n.name} }`);
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: flanneld',
    '    metrics_path: /metrics',
    '    static_configs:',
    ...targets,
    '',
  ].join('\n');
}

describe('Prometheus scrapes every lab node (vxlan, 3 nodes)', { skip }, () => {
  const prefix = uniquePrefix('flp');
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const stateDir = join(dir, 'lab');
  const promDir = join(dir, 'prometheus');
  const promLog = join(promDir, 'prometheus.log');
  let cluster: Cluster | undefined;
  let prometheus: ChildProcess | undefined;

  const lab = (): Cluster => cluster ?? assert.fail('the lab is not up (its before hook failed)');
  const sw = (): Netns => new Netns(lab().switchNs);
  const logTail = (): string => {
    try {
      return readFileSync(promLog, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    } catch {
      return '(no prometheus log)';
    }
  };
  const api = (path: string, params: string[] = []): string =>
    sw().exec('curl', ['-sS', '--max-time', '5', '-G', `http://${PROMETHEUS}${path}`, ...params.flatMap((p) => ['--data-urlencode', p])]);

  /** An instant query's samples, by the `node` label. */
  function query(expr: string): Map<string, number> {
    const parsed = QueryResponse.parse(JSON.parse(api('/api/v1/query', [`query=${expr}`])));
    return new Map(parsed.data.result.map((r) => [r.metric.node ?? '?', Number(r.value[1])]));
  }

  /** Polls until `check` holds for the query's samples; on time-out says what it saw and why targets fail. */
  async function waitQuery(expr: string, what: string, check: (samples: Map<string, number>) => boolean, timeoutMs = 60_000): Promise<Map<string, number>> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      try {
        const samples = query(expr);
        if (check(samples)) return samples;
        last = JSON.stringify(Object.fromEntries(samples));
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) {
        let targets = '';
        try {
          targets = api('/api/v1/targets');
        } catch (err) {
          targets = (err as Error).message;
        }
        assert.fail(`timed out after ${timeoutMs} ms waiting for ${what} (query ${expr}); last: ${last}\ntargets: ${targets}\nprometheus log:\n${logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const names = (nodes: readonly LabNode[]): string[] => nodes.map((n) => n.name);
  const allEqual = (nodes: readonly string[], value: number) => (s: Map<string, number>) => nodes.every((n) => s.get(n) === value);

  before(async () => {
    cluster = await Cluster.up({
      prefix,
      nodes: NODES,
      netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
      ipMasq: false,
      stateDir,
      extraFlanneldArgs: ['--healthz-ip=0.0.0.0'],
    });
    mkdirSync(join(promDir, 'data'), { recursive: true });
    writeFileSync(join(promDir, 'prometheus.yml'), prometheusConfig(cluster.nodes));
    const log = openSync(promLog, 'a');
    prometheus = sw().spawn('prometheus', [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=${PROMETHEUS}`,
      '--storage.tsdb.retention.time=1h',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    const started = prometheus;
    const exited = new Promise<never>((_, reject) => started.once('exit', (code) => reject(new Error(`prometheus exited (${code}) during start-up:\n${logTail()}`))));
    const ready = (async () => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          if (sw().exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', `http://${PROMETHEUS}/-/ready`]).trim() === '200') return;
        } catch {
          /* not listening yet */
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`prometheus not ready after 60 s:\n${logTail()}`);
    })();
    await Promise.race([ready, exited]);
  });

  after(async () => {
    const pid = prometheus?.pid;
    if (pid !== undefined && prometheus?.exitCode === null) {
      process.kill(pid, 'SIGTERM');
      if (!(await processExited(pid, 10_000))) process.kill(pid, 'SIGKILL');
    }
    Cluster.down(prefix, stateDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('up == 1 for every node, and every node knows its two IPv4 peers', async () => {
    const nodes = names(lab().nodes);
    const up = await waitQuery('up{job="flanneld"}', 'every node scraped', allEqual(nodes, 1));
    assert.deepEqual([...up.keys()].sort(), nodes);
    const peers = await waitQuery('flannel_peers{family="ipv4"}', 'two IPv4 peers on every node', allEqual(nodes, 2));
    assert.deepEqual([...peers.keys()].sort(), nodes);
  });

  it('node3 loses its lease and comes back with a new one: the others count the events, and their peers dip and return', async () => {
    const c = lab();
    const node3 = c.node('node3');
    const others = names(c.nodes.filter((n) => n !== node3));
    const before = await waitQuery('flannel_datastore_events_total', 'event counters of node1 and node2', (s) => others.every((n) => s.has(n)));

    await c.stopFlanneld(node3);
    const leaseKey = leaseKeyOf(c, node3);
    c.etcdctl(['del', leaseKey]);
    await waitQuery('flannel_peers{family="ipv4"}', 'node1 and node2 dropping node3', allEqual(others, 1));
    await waitQuery('up{job="flanneld"}', 'node3 down', (s) => s.get(node3.name) === 0);

    await c.startFlanneld(node3);
    await c.waitReady(node3, 60_000);
    await waitQuery('up{job="flanneld"}', 'node3 scraped again', allEqual(names(c.nodes), 1));
    await waitQuery('flannel_peers{family="ipv4"}', 'two IPv4 peers on every node again', allEqual(names(c.nodes), 2));
    // The lease's deletion and its re-creation are two events each of the others received.
    const afterwards = await waitQuery('flannel_datastore_events_total', 'node1 and node2 counting the delete and the new lease', (s) =>
      others.every((n) => (s.get(n) ?? 0) >= (before.get(n) ?? Infinity) + 2),
    );
    for (const n of others) assert.ok((afterwards.get(n) ?? 0) > (before.get(n) ?? Infinity), `${n}: ${before.get(n)} -> ${afterwards.get(n)}`);
  });
});

/** The etcd key of the lease whose PublicIP is the node's underlay address. */
function leaseKeyOf(cluster: Cluster, node: LabNode): string {
  const lines = cluster.etcdctl(['get', '--prefix', `${ETCD_PREFIX}/subnets/`]).trimEnd().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const value = JSON.parse(lines[i + 1] ?? '{}') as { PublicIP?: unknown };
    if (value.PublicIP === node.underlayIP) return lines[i] ?? '';
  }
  return assert.fail(`no lease of ${node.name} (${node.underlayIP}) in etcd:\n${lines.join('\n')}`);
}
