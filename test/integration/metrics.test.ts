/**
 * flanneld's /metrics on a real 2-node vxlan cluster (etcd): the exposition says what runs, this
 * node's lease and its peer, counts reconcile passes, and a route deleted by hand shows up as a
 * repair of kind "route".
 */
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/netns.ts';
import { METRIC_NAMES } from '../../src/metrics/index.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { waitFor } from '../harness/wait.ts';
import { FaultCluster, HEALTH_PORT, type FaultNode } from '../harness/fault-cluster.ts';

const skip = skipUnlessPrivileged(['etcd', 'iptables', 'curl']);

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The sample lines of a Prometheus text exposition. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('flanneld /metrics', { skip }, () => {
  const prefix = uniquePrefix('fme');
  let c: FaultCluster;
  let n1: FaultNode;
  let n2: FaultNode;

  const scrape = async (node: FaultNode): Promise<{ text: string; samples: Sample[] }> => {
    const r = await c.http(node, '/metrics');
    assert.equal(r.status, 200, `GET /metrics on ${node.name}: ${r.status} ${r.body.slice(0, 200)}`);
    return { text: r.body, samples: parseExposition(r.body) };
  };

  before(async () => {
    c = await FaultCluster.create({ prefix, netconf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
    [n1, n2] = (await c.addReadyNodes(2)) as [FaultNode, FaultNode];
    await waitFor('node1 and node2 to route to each other', () => c.routesTo(n1, n2) && c.routesTo(n2, n1), 60_000, 300);
  });

  after(async () => {
    await c?.down();
  });

  it('says what runs, the lease, the peer and the passes, with the process metrics', async () => {
    // The pass that programmed the peer reports it once it is done: wait for that report.
    const { text, samples } = await waitFor(
      'flannel_peers_programmed 1 on node1',
      async () => {
        const s = await scrape(n1);
        return valueOf(s.samples, 'flannel_peers_programmed', { backend: 'vxlan', family: 'ipv4' }) === 1 && s;
      },
      60_000,
      500,
    );
    for (const name of METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is not exposed`);
    assert.equal(valueOf(samples, 'flannel_build_info', { backend: 'vxlan', datastore: 'etcd' }), 1);
    assert.equal(valueOf(samples, 'flannel_lease_info', { subnet: c.subnet(n1).toString(), ipv6_subnet: '' }), 1);
    assert.equal(valueOf(samples, 'flannel_peers', { backend: 'vxlan', family: 'ipv4' }), 1);
    assert.ok((valueOf(samples, 'flannel_reconcile_passes_total', { kind: 'full' }) ?? 0) > 0, 'no full reconcile pass counted');
    assert.ok((valueOf(samples, 'flannel_lease_expiry_seconds') ?? 0) > 0, 'lease expiry not positive');
    assert.equal(valueOf(samples, 'flannel_datastore_up'), 1);
    assert.ok((valueOf(samples, 'flannel_datastore_last_event_timestamp_seconds') ?? 0) > Date.now() / 1000 - 3600, 'no recent lease listing');
    assert.ok((valueOf(samples, 'process_resident_memory_bytes') ?? 0) > 10 * 1024 * 1024, 'no plausible process_resident_memory_bytes');
    assert.equal(valueOf(samples, 'flannel_reconcile_repairs_total', { kind: 'route' }), 0);
    // Bounded labels: nothing names a peer.
    assert.doesNotMatch(text, new RegExp(c.subnet(n2).ip.toString().replace(/\./g, '\\.')));

    // What a scrape costs, for the notes (not asserted: timing on a loaded machine).
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('ip', ['netns', 'exec', n1.ns.name, 'curl', '-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://127.0.0.1:${HEALTH_PORT}/metrics`], { encoding: 'utf8' }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      const [size = '0', seconds = '0'] = out.trim().split(' ');
      bytes = Number(size);
      times.push(Number(seconds) * 1000);
    }
    times.sort((a, b) => a - b);
    console.log(`# metrics-scrape node1: ${bytes} bytes, ${samples.length} samples, median ${times[2]?.toFixed(1)} ms (min ${times[0]?.toFixed(1)}, max ${times[4]?.toFixed(1)})`);
  });

  it('counts the repair of a route deleted by hand', async () => {
    const before = valueOf((await scrape(n1)).samples, 'flannel_reconcile_repairs_total', { kind: 'route' }) ?? 0;
    const dst = c.subnet(n2).toString();
    n1.ns.exec('ip', ['route', 'del', dst, 'dev', 'flannel.1']);
    await waitFor('node1 to route to node2 again', () => c.routesTo(n1, n2), 60_000, 300);
    await waitFor(
      'flannel_reconcile_repairs_total{kind="route"} to move on node1',
      async () => (valueOf((await scrape(n1)).samples, 'flannel_reconcile_repairs_total', { kind: 'route' }) ?? 0) > before,
      60_000,
      500,
    );
  });
});
