/**
 * Scraping flanneld from the manifest and the chart: the pod annotations point at the health
 * listener (bound to every address of the node, so a scraper reaches <node IP>:<port>), the
 * optional PodMonitor selects exactly the DaemonSet's pods on the container's named port, and
 * every rendering equals what the generator resolves for the same values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseDaemonOptions } from '../../src/config/index.ts';
import { CHART_DIR, MANIFEST_PATH } from '../../src/deploy/files.ts';
import { resolveObjects } from '../../src/deploy/manifest.ts';
import { METRICS, manifestDocs } from '../../src/deploy/objects/index.ts';
import type { IPodMonitor } from '../../src/deploy/objects/pod-monitor.ts';
import { chartValues, renderChart, type Values } from '../../src/deploy/testing/render-chart.ts';
import { findObject, parseDocuments, refOf, sortObjects } from '../../src/deploy/testing/objects.ts';
import { SchemaError, validateObject } from '../../src/deploy/testing/validate.ts';
import { DEFAULT_HEALTHZ_PORT, type ChartValues } from '../../src/deploy/values.ts';

const root = new URL('../../', import.meta.url);
const chartDir = join(root.pathname, CHART_DIR);

function render(override: Values): readonly unknown[] {
  const { objects } = renderChart(chartDir, override);
  for (const o of objects) validateObject(o);
  const expected = resolveObjects(manifestDocs(), chartValues(chartDir, override) as unknown as ChartValues);
  assert.deepEqual(sortObjects(objects), sortObjects(expected));
  return objects;
}

const daemonSet = (objects: readonly unknown[]) => findObject<IDaemonSet>(objects, 'DaemonSet');
const annotations = (objects: readonly unknown[]) => daemonSet(objects).spec?.template.metadata?.annotations;
const flanneld = (objects: readonly unknown[]): IContainer =>
  daemonSet(objects).spec?.template.spec?.containers.find((c) => c.name === 'kube-flannel') ?? assert.fail('no kube-flannel container');
const podMonitors = (objects: readonly unknown[]) => objects.filter((o) => refOf(o).kind === 'PodMonitor') as IPodMonitor[];

describe('kube-flannel.yml: scraping', () => {
  const objects = parseDocuments(readFileSync(join(root.pathname, MANIFEST_PATH), 'utf8'));

  it('annotates the pods for annotation-driven scraping of /metrics on the healthz port', () => {
    assert.deepEqual(annotations(objects), { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(DEFAULT_HEALTHZ_PORT), 'prometheus.io/path': '/metrics' });
  });

  it('flanneld listens on every address of the node, on the annotated port, declared as the named port', () => {
    const c = flanneld(objects);
    const options = parseDaemonOptions((c.command ?? []).slice(1), {});
    assert.deepEqual(options.healthz, { ip: '0.0.0.0', port: DEFAULT_HEALTHZ_PORT });
    assert.equal(daemonSet(objects).spec?.template.spec?.hostNetwork, true);
    assert.deepEqual(c.ports, [{ name: METRICS.portName, containerPort: DEFAULT_HEALTHZ_PORT, protocol: 'TCP' }]);
  });

  it('has no PodMonitor (the CRD exists only where the Prometheus Operator runs)', () => {
    assert.deepEqual(podMonitors(objects), []);
  });
});

describe('chart: metrics values', () => {
  it('metrics.enabled false drops the annotations and nothing else', () => {
    const off = render({ metrics: { enabled: false } });
    assert.equal(annotations(off), undefined);
    assert.deepEqual(flanneld(off).ports?.map((p) => p.containerPort), [DEFAULT_HEALTHZ_PORT]);
  });

  it('flannel.healthz.port moves the annotation, the named port and the PodMonitor\'s target with it', () => {
    const objects = render({ flannel: { healthz: { port: 9099 } }, metrics: { podMonitor: { enabled: true } } });
    assert.equal(annotations(objects)?.['prometheus.io/port'], '9099');
    assert.deepEqual(flanneld(objects).ports, [{ name: METRICS.portName, containerPort: 9099, protocol: 'TCP' }]);
    assert.ok(flanneld(objects).command?.includes('--healthz-port=9099'));
    assert.equal(podMonitors(objects)[0]?.spec.podMetricsEndpoints[0]?.port, METRICS.portName);
  });

  it('flannel.healthz.port 0 (no health server, so no /metrics) drops annotations, port and PodMonitor', () => {
    const objects = render({ flannel: { healthz: { port: 0 } }, metrics: { podMonitor: { enabled: true } } });
    assert.equal(annotations(objects), undefined);
    assert.equal(flanneld(objects).ports, undefined);
    assert.deepEqual(podMonitors(objects), []);
  });

  it('metrics.podMonitor.enabled adds a PodMonitor that selects exactly the DaemonSet\'s pods, on the named port, at /metrics', () => {
    const objects = render({ metrics: { podMonitor: { enabled: true } } });
    const pm = findObject<IPodMonitor>(objects, 'PodMonitor', 'kube-flannel-ds');
    const ds = daemonSet(objects);
    assert.equal(pm.metadata.namespace, ds.metadata?.namespace);
    assert.deepEqual(pm.spec.selector.matchLabels, ds.spec?.selector.matchLabels);
    const podLabels = ds.spec?.template.metadata?.labels ?? {};
    for (const [k, val] of Object.entries(pm.spec.selector.matchLabels)) assert.equal(podLabels[k], val, k);
    assert.deepEqual(pm.spec.podMetricsEndpoints, [
      { port: METRICS.portName, path: '/metrics', interval: '30s', relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node', action: 'replace' }] },
    ]);
    assert.ok(flanneld(objects).ports?.some((p) => p.name === pm.spec.podMetricsEndpoints[0]?.port));
    assert.deepEqual(pm.metadata.labels, { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' });
  });

  it('podMonitor labels merge into the defaults (for the operator\'s selector); interval, namespace follow their values', () => {
    const objects = render({ namespace: 'flannel-system', metrics: { podMonitor: { enabled: true, interval: '', labels: { release: 'kube-prometheus-stack' } } } });
    const pm = findObject<IPodMonitor>(objects, 'PodMonitor');
    assert.deepEqual(pm.metadata.labels, { app: 'flannel', 'k8s-app': 'flannel', tier: 'node', release: 'kube-prometheus-stack' });
    assert.equal(pm.metadata.namespace, 'flannel-system');
    assert.equal(pm.spec.podMetricsEndpoints[0]?.interval, undefined);
    const fast = findObject<IPodMonitor>(render({ metrics: { podMonitor: { enabled: true, interval: '10s', labels: null } } }), 'PodMonitor');
    assert.equal(fast.spec.podMetricsEndpoints[0]?.interval, '10s');
    assert.equal(fast.metadata.labels, undefined);
  });

  it('the PodMonitor schema check catches a misspelt field and a bad interval', () => {
    const pm = findObject<IPodMonitor>(render({ metrics: { podMonitor: { enabled: true } } }), 'PodMonitor');
    const misspelt = structuredClone(pm) as unknown as { spec: { podMetricsEndpoints: Record<string, unknown>[] } };
    const endpoint = misspelt.spec.podMetricsEndpoints[0] ?? assert.fail('no endpoint');
    endpoint.targetPortName = endpoint.port;
    assert.throws(() => validateObject(misspelt), SchemaError);
    const badInterval = structuredClone(pm);
    const first = badInterval.spec.podMetricsEndpoints[0] ?? assert.fail('no endpoint');
    first.interval = '30 seconds';
    assert.throws(() => validateObject(badInterval), /PodMonitor kube-flannel-ds/);
  });
});
