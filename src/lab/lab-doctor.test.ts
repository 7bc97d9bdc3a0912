/**
 * lab doctor's merged report: the table with a NODE column, a fix line under every non-ok result,
 * doctor's summary line over all nodes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addSummaries, failures, renderLabDoctor, summaryLine, type LabDoctorReport } from './lab-doctor.ts';

const report: LabDoctorReport = {
  nodes: [
    { node: 'node1', hostname: 'box', results: [{ node: 'node1', id: 'flanneld.process', status: 'ok', saw: 'pid 7' }], summary: { ok: 1, warn: 0, fail: 0, skip: 0 } },
    {
      node: 'node2',
      hostname: 'box',
      results: [
        { node: 'node2', id: 'sysctl.ip-forward', status: 'fail', saw: 'net.ipv4.ip_forward = 0', fix: 'sysctl -w net.ipv4.ip_forward=1' },
        { node: 'node2', id: 'config.pod-cidr', status: 'skip', saw: 'etcd mode' },
      ],
      summary: { ok: 0, warn: 0, fail: 1, skip: 1 },
    },
  ],
  summary: { ok: 1, warn: 0, fail: 1, skip: 1 },
};

describe('lab doctor report', () => {
  it('renders one table with a NODE column, fix lines, and the summary last', () => {
    assert.equal(
      renderLabDoctor(report),
      [
        'NODE   STATUS  ID                 SAW',
        'node1  ok      flanneld.process   pid 7',
        'node2  fail    sysctl.ip-forward  net.ipv4.ip_forward = 0',
        '                 fix: sysctl -w net.ipv4.ip_forward=1',
        'node2  skip    config.pod-cidr    etcd mode',
        'doctor: 1 ok, 0 warn, 1 fail, 1 skipped',
      ].join('\n'),
    );
  });

  it('adds the nodes\' summaries and names every failure with its node', () => {
    assert.deepEqual(addSummaries(report.nodes.map((n) => n.summary)), report.summary);
    assert.equal(summaryLine({ ok: 23, warn: 1, fail: 2, skip: 3 }), 'doctor: 23 ok, 1 warn, 2 fail, 3 skipped');
    assert.deepEqual(failures(report), ['node2: sysctl.ip-forward']);
  });
});
