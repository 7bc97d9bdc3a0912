import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fail, ok, skip, warn, type CheckResult } from './check.ts';
import { formatJson, formatTable, summarize, summaryLine } from './render.ts';

const results: CheckResult[] = [
  ok('flanneld.process', 'pid 412: flanneld --iface=eth0'),
  fail('sysctl.ip-forward', 'net.ipv4.ip_forward = 0', 'sysctl -w net.ipv4.ip_forward=1'),
  warn('sysctl.br-netfilter', 'br_netfilter is not loaded', 'modprobe br_netfilter\necho net.bridge.bridge-nf-call-iptables=1 > /etc/sysctl.d/k8s.conf'),
  skip('config.pod-cidr', 'etcd mode: no node object'),
];

describe('doctor report rendering', () => {
  it('counts every status', () => {
    assert.deepEqual(summarize(results), { ok: 1, warn: 1, fail: 1, skip: 1 });
    assert.deepEqual(summarize([]), { ok: 0, warn: 0, fail: 0, skip: 0 });
  });

  it('prints the summary line in the one form lab up greps for', () => {
    assert.equal(summaryLine({ ok: 23, warn: 1, fail: 2, skip: 3 }), 'doctor: 23 ok, 1 warn, 2 fail, 3 skipped');
  });

  it('prints one aligned row per result, the fix of non-ok ones indented below, the summary last', () => {
    assert.equal(
      formatTable(results),
      [
        'ok    flanneld.process     pid 412: flanneld --iface=eth0',
        'fail  sysctl.ip-forward    net.ipv4.ip_forward = 0',
        '      fix: sysctl -w net.ipv4.ip_forward=1',
        'warn  sysctl.br-netfilter  br_netfilter is not loaded',
        '      fix: modprobe br_netfilter',
        '           echo net.bridge.bridge-nf-call-iptables=1 > /etc/sysctl.d/k8s.conf',
        'skip  config.pod-cidr      etcd mode: no node object',
        'doctor: 1 ok, 1 warn, 1 fail, 1 skipped',
        '',
      ].join('\n'),
    );
  });

  it('prints no fix line for an ok result even when one is given', () => {
    const out = formatTable([{ id: 'a.b', status: 'ok', saw: 'fine', fix: 'nothing to do' }]);
    assert.equal(out, 'ok    a.b  fine\ndoctor: 1 ok, 0 warn, 0 fail, 0 skipped\n');
  });

  it('an empty report is just the summary line', () => {
    assert.equal(formatTable([]), 'doctor: 0 ok, 0 warn, 0 fail, 0 skipped\n');
  });

  it('JSON is one object: node, results as given, summary', () => {
    const parsed = JSON.parse(formatJson('node1', results)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['node', 'results', 'summary']);
    assert.equal(parsed.node, 'node1');
    assert.deepEqual(parsed.results, results);
    assert.deepEqual(parsed.summary, { ok: 1, warn: 1, fail: 1, skip: 1 });
  });
});
