/**
 * deploy/grafana/flannel-ts-dashboard.json: valid JSON that Grafana imports (every query on the
 * ${DS_PROMETHEUS} data source variable, unique panel ids, panels inside the 24-column grid), and
 * every expression reads only metrics flanneld exports (names.ts, with a histogram's _bucket,
 * _sum and _count) or prom-client's process_* and nodejs_* ones; every flannel metric is shown.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { METRIC_NAMES } from '../metrics/names.ts';
import { labelValuesMetric, promqlMetricNames } from './testing/promql-names.ts';

const PATH = new URL('../../deploy/grafana/flannel-ts-dashboard.json', import.meta.url);
const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

const Target = z.object({ refId: z.string().min(1), expr: z.string().min(1), datasource: z.unknown() });
const Panel = z.object({
  id: z.number().int().positive(),
  type: z.enum(['row', 'timeseries', 'stat', 'table']),
  title: z.string().min(1),
  gridPos: z.object({ h: z.number().int().positive(), w: z.number().int().positive(), x: z.number().int().min(0), y: z.number().int().min(0) }),
  datasource: z.unknown().optional(),
  targets: z.array(Target).optional(),
});
const Variable = z.object({ type: z.string(), name: z.string(), query: z.unknown(), datasource: z.unknown().optional() });
const Dashboard = z.object({
  title: z.string().min(1),
  uid: z.string().min(1),
  schemaVersion: z.number().int(),
  templating: z.object({ list: z.array(Variable) }),
  panels: z.array(Panel).min(1),
});

const dashboard = Dashboard.parse(JSON.parse(readFileSync(PATH, 'utf8')));
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** A name flanneld's /metrics can hold. */
function exported(name: string): boolean {
  if (name.startsWith('process_') || name.startsWith('nodejs_')) return true;
  const histogram = /^(.*_duration_seconds)_(?:bucket|sum|count)$/.exec(name)?.[1];
  return METRIC_NAMES.includes(name) || (histogram !== undefined && METRIC_NAMES.includes(histogram));
}

describe('promqlMetricNames', () => {
  it('finds metric names and leaves out functions, labels, ranges, grouping and strings', () => {
    assert.deepEqual(
      promqlMetricNames('histogram_quantile(0.99, sum by (le, kind) (rate(flannel_reconcile_duration_seconds_bucket{instance=~"$instance", kind="full"}[$__rate_interval])))'),
      ['flannel_reconcile_duration_seconds_bucket'],
    );
    assert.deepEqual(promqlMetricNames('time() - a_b{x="y{z}"} and on (instance) c unless d offset 5m'), ['a_b', 'c', 'd']);
    assert.deepEqual(promqlMetricNames('count(up == 0) or vector(0)'), ['up']);
    assert.deepEqual(promqlMetricNames('x > 1e3 * y offset 1h30m'), ['x', 'y']);
    assert.equal(labelValuesMetric('label_values(flannel_build_info, instance)'), 'flannel_build_info');
    assert.equal(labelValuesMetric('query_result(up)'), undefined);
  });

  it('the name check refuses what flanneld does not export', () => {
    for (const name of ['up', 'flannel_peer', 'flannel_reconcile_duration_seconds_bucket_total', 'flannel_peers_bucket', 'go_goroutines']) {
      assert.equal(exported(name), false, name);
    }
    for (const name of ['flannel_peers', 'flannel_reconcile_duration_seconds_bucket', 'flannel_traffic_resync_duration_seconds_count', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.equal(exported(name), true, name);
    }
  });
});

describe('deploy/grafana/flannel-ts-dashboard.json', () => {
  it('queries through the ${DS_PROMETHEUS} data source variable only', () => {
    const ds = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    assert.deepEqual({ type: ds?.type, query: ds?.query }, { type: 'datasource', query: 'prometheus' });
    for (const p of queryPanels) {
      assert.deepEqual(p.datasource, DATASOURCE, p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has no query`);
      for (const t of p.targets ?? []) assert.deepEqual(t.datasource, DATASOURCE, `${p.title} ${t.refId}`);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) assert.deepEqual(v.datasource, DATASOURCE, v.name);
  });

  it('every expression and variable reads only metrics flanneld exports, each filtered by $instance', () => {
    for (const { panel, expr } of exprs) {
      const names = promqlMetricNames(expr);
      assert.ok(names.length > 0, `${panel}: no metric in ${expr}`);
      for (const name of names) assert.ok(exported(name), `${panel}: ${name} is not a flanneld metric (${expr})`);
      for (const m of expr.matchAll(/\b((?:flannel|process|nodejs)_[A-Za-z0-9_]*)(\{[^}]*\})?/g)) {
        assert.match(m[2] ?? '', /instance=~"\$instance"/, `${panel}: ${m[1]} is not filtered by $instance in ${expr}`);
      }
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const query = typeof v.query === 'string' ? v.query : z.object({ query: z.string() }).parse(v.query).query;
      const metric = labelValuesMetric(query);
      assert.ok(metric !== undefined && exported(metric), `variable ${v.name}: ${query}`);
    }
  });

  it('shows every flannel metric', () => {
    const used = new Set(exprs.flatMap(({ expr }) => promqlMetricNames(expr)).map((n) => n.replace(/_(?:bucket|sum|count)$/, '')));
    assert.deepEqual(METRIC_NAMES.filter((n) => !used.has(n)), []);
  });

  it('has unique panel ids, panels inside the 24-column grid, and no two panels on the same cells', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} goes past column 24`);
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('covers what operators look at: peers by node, reconcile p50/p99, objects, repairs, lease expiry, datastore, traffic rules, RSS and CPU', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const needle of [
      /flannel_peers\{/,
      /histogram_quantile\(0\.5, [^\n]*flannel_reconcile_duration_seconds_bucket/,
      /histogram_quantile\(0\.99, [^\n]*flannel_reconcile_duration_seconds_bucket/,
      /sum by \(op\) \(rate\(flannel_reconcile_objects_total/,
      /flannel_reconcile_repairs_total/,
      /flannel_lease_expiry_seconds/,
      /flannel_datastore_up/,
      /time\(\) - flannel_datastore_last_event_timestamp_seconds/,
      /flannel_traffic_resyncs_total\{[^}]*result="failed"/,
      /process_resident_memory_bytes/,
      /rate\(process_cpu_seconds_total/,
    ]) {
      assert.match(all, needle);
    }
  });
});
