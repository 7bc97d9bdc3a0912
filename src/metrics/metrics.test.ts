import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { Cidr } from '../ip/index.ts';
import { createMetrics, METRIC, METRIC_NAMES, type FlannelMetrics, type PeerView, type UdpPacketCounts } from './index.ts';
import { EVENT_LOOP_SAMPLE_MS } from './metrics.ts';

/** The value of one sample line: `name{labels} value` (labels in the order prom-client prints them). */
function sample(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

const leaseIn = (seconds: number) => ({ subnet: Cidr.parse('10.244.3.0/24'), expiration: new Date(Date.now() + seconds * 1000) });

function started(): FlannelMetrics {
  const m = createMetrics({ version: '9.8.7', datastore: 'etcd' });
  m.setBackend('vxlan');
  m.setLease(leaseIn(3600));
  return m;
}

describe('metrics', () => {
  it('exposes every metric of the plan with HELP and TYPE, and the process metrics', async () => {
    const m = started();
    const text = await m.render();
    const types: Record<string, string> = {
      flannel_reconcile_duration_seconds: 'histogram',
      flannel_traffic_resync_duration_seconds: 'histogram',
    };
    for (const name of METRIC_NAMES) {
      const type = types[name] ?? (name.endsWith('_total') ? 'counter' : 'gauge');
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
    }
    assert.equal(METRIC_NAMES.length, 21);
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.match(text, new RegExp(`^${name} \\d`, 'm'), name);
    }
    assert.equal(sample(text, 'flannel_build_info', 'version="9.8.7",backend="vxlan",datastore="etcd"'), 1);
    assert.equal(sample(text, 'flannel_lease_info', 'subnet="10.244.3.0/24",ipv6_subnet=""'), 1);
    const expiry = sample(text, 'flannel_lease_expiry_seconds') ?? 0;
    assert.ok(expiry > 3500 && expiry <= 3600, `expiry ${expiry}`);
    assert.equal(sample(text, 'flannel_datastore_up'), 0);
    // Known label values start at 0.
    assert.equal(sample(text, 'flannel_reconcile_repairs_total', 'kind="route"'), 0);
    assert.equal(sample(text, 'flannel_kernel_request_errors_total', 'op="addr"'), 0);
    assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it('keeps one registry per daemon, none in the global default registry', async () => {
    const a = started();
    const b = started();
    a.leaseRenewed(leaseIn(60));
    assert.equal(sample(await a.render(), 'flannel_lease_renewals_total'), 1);
    assert.equal(sample(await b.render(), 'flannel_lease_renewals_total'), 0);
    assert.equal(globalRegistry.getSingleMetric(METRIC.buildInfo[0]), undefined);
  });

  it('counts reconcile passes, objects, repairs, kernel errors and programmed peers', async () => {
    const m = started();
    const families = { ipv4: { known: 3, programmed: 2 }, ipv6: { known: 0, programmed: 0 } };
    m.reconcilePass('vxlan', { kind: 'full', applied: 9, removed: 1, failed: 2, ms: 30, repairs: { route: 1, neigh: 0, fdb: 2 }, failures: { route: 0, neigh: 2, fdb: 0 }, families });
    m.reconcilePass('vxlan', { kind: 'incremental', applied: 3, removed: 0, failed: 0, ms: 2 });
    const text = await m.render();
    assert.equal(sample(text, 'flannel_reconcile_passes_total', 'kind="full"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_passes_total', 'kind="incremental"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_duration_seconds_count', 'kind="full"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_duration_seconds_bucket', 'le="0.025",kind="full"'), 0);
    assert.equal(sample(text, 'flannel_reconcile_duration_seconds_bucket', 'le="0.05",kind="full"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_objects_total', 'op="applied"'), 12);
    assert.equal(sample(text, 'flannel_reconcile_objects_total', 'op="removed"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_objects_total', 'op="failed"'), 2);
    assert.equal(sample(text, 'flannel_reconcile_repairs_total', 'kind="route"'), 1);
    assert.equal(sample(text, 'flannel_reconcile_repairs_total', 'kind="fdb"'), 2);
    assert.equal(sample(text, 'flannel_kernel_request_errors_total', 'op="neigh"'), 2);
    assert.equal(sample(text, 'flannel_peers_programmed', 'backend="vxlan",family="ipv4"'), 2);
    assert.equal(sample(text, 'flannel_peers_programmed', 'backend="vxlan",family="ipv6"'), 0);
  });

  it('follows the lease watch, the lease and the traffic rule checks', async () => {
    const m = started();
    const before = Date.now() / 1000;
    const peer = (subnet: string, backendType = 'vxlan'): PeerView => ({ subnet: Cidr.parse(subnet), attrs: { backendType } });
    m.watchResult({ kind: 'snapshot', leases: [peer('10.244.3.0/24'), peer('10.244.4.0/24')] });
    m.watchResult({ kind: 'events', events: [{ type: 'added', lease: peer('10.244.5.0/24', 'host-gw') }, { type: 'removed', lease: peer('10.244.4.0/24') }] });
    m.watchResult({ kind: 'snapshot', leases: [peer('10.244.3.0/24'), peer('10.244.5.0/24', 'host-gw'), peer('10.244.6.0/24')] });
    m.leaseReacquired({ ...leaseIn(120), subnet: Cidr.parse('10.244.3.0/24') });
    m.trafficResync({ ok: true, seconds: 0.02, restored: 3 });
    m.trafficResync({ ok: false, seconds: 0.2, restored: 0 });
    const text = await m.render();
    assert.equal(sample(text, 'flannel_datastore_up'), 1);
    // Every lease but ours, by the backend type it carries.
    assert.equal(sample(text, 'flannel_peers', 'backend="vxlan",family="ipv4"'), 1);
    assert.equal(sample(text, 'flannel_peers', 'backend="host-gw",family="ipv4"'), 1);
    m.datastoreWatchState(false);
    assert.equal(sample(await m.render(), 'flannel_datastore_up'), 0);
    m.datastoreWatchState(true);
    assert.equal(sample(text, 'flannel_datastore_watch_restarts_total'), 1);
    assert.equal(sample(text, 'flannel_datastore_events_total'), 2);
    assert.ok((sample(text, 'flannel_datastore_last_event_timestamp_seconds') ?? 0) >= Math.floor(before));
    assert.equal(sample(text, 'flannel_lease_reacquisitions_total'), 1);
    assert.ok((sample(text, 'flannel_lease_expiry_seconds') ?? 0) <= 120);
    assert.equal(sample(text, 'flannel_traffic_resyncs_total', 'result="ok"'), 1);
    assert.equal(sample(text, 'flannel_traffic_resyncs_total', 'result="failed"'), 1);
    assert.equal(sample(text, 'flannel_traffic_resync_duration_seconds_count'), 2);
    assert.equal(sample(text, 'flannel_traffic_rules_restored_total'), 3);
  });

  it('drops the expiry for a reservation (a lease that never expires)', async () => {
    const m = started();
    m.setLease({ subnet: Cidr.parse('10.244.3.0/24') });
    const text = await m.render();
    assert.doesNotMatch(text, /flannel_lease_expiry_seconds/);
    m.setLease(leaseIn(10));
    assert.ok((sample(await m.render(), 'flannel_lease_expiry_seconds') ?? 0) > 0);
  });

  it('reads the udp and wireguard-go counters at scrape time, and keeps totals across readers', async () => {
    const m = started();
    assert.equal(sample(await m.render(), 'flannel_udp_packets_total', 'direction="to_peer",result="forwarded"'), undefined);
    let counts: UdpPacketCounts = { toPeer: { forwarded: 5, dropped: 1 }, fromPeer: { forwarded: 4, dropped: 0 } };
    m.readUdpPackets(() => counts);
    let text = await m.render();
    assert.equal(sample(text, 'flannel_udp_packets_total', 'direction="to_peer",result="forwarded"'), 5);
    assert.equal(sample(text, 'flannel_udp_packets_total', 'direction="from_peer",result="forwarded"'), 4);
    counts = { toPeer: { forwarded: 7, dropped: 1 }, fromPeer: { forwarded: 4, dropped: 2 } };
    text = await m.render();
    assert.equal(sample(text, 'flannel_udp_packets_total', 'direction="to_peer",result="forwarded"'), 7);
    assert.equal(sample(text, 'flannel_udp_packets_total', 'direction="from_peer",result="dropped"'), 2);
    // A new data plane starts from zero; the counter does not go down.
    m.readUdpPackets(() => ({ toPeer: { forwarded: 1, dropped: 0 }, fromPeer: { forwarded: 0, dropped: 0 } }));
    assert.equal(sample(await m.render(), 'flannel_udp_packets_total', 'direction="to_peer",result="forwarded"'), 8);

    let restarts = 0;
    m.readWireguardGoRestarts('flannel-wg', () => restarts);
    assert.equal(sample(await m.render(), 'flannel_wireguard_go_restarts_total', 'device="flannel-wg"'), 0);
    restarts = 2;
    assert.equal(sample(await m.render(), 'flannel_wireguard_go_restarts_total', 'device="flannel-wg"'), 2);
  });

  it('samples the event-loop delay every 100 ms, not every 10 ms (prom-client\'s default wakes an idle daemon 100 times a second)', async () => {
    const m = started();
    await new Promise((r) => setTimeout(r, 10 * EVENT_LOOP_SAMPLE_MS));
    const text = await m.render();
    // A sample is the time between two wake-ups of the monitor. One can be shorter than the
    // interval after a late one on a busy machine, but their mean is at least about the interval
    // (~0.010 s at prom-client's default).
    const mean = sample(text, 'nodejs_eventloop_lag_mean_seconds') ?? Number.NaN;
    assert.ok(mean >= 0.05 && mean < 30, `mean sample ${mean} s`);
    assert.ok((sample(text, 'nodejs_eventloop_lag_max_seconds') ?? 0) >= mean);
  });
});
