import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allReachable, planPodPairs, probeTwice, renderProbeReport, FULL_MATRIX_PODS, SAMPLE_PER_POD, type ProbeReport, type Reachability } from './connectivity.ts';
import type { LabPod } from './lab-pods.ts';

const pods = (n: number): LabPod[] => Array.from({ length: n }, (_, i) => ({ name: `node${i + 1}-pod1`, node: `node${i + 1}`, ns: `x-n${i + 1}-p1`, ip: `10.244.${i + 1}.2`, containerId: `c${i}` }));

describe('planPodPairs', () => {
  it('probes every ordered pair up to FULL_MATRIX_PODS pods', () => {
    const plan = planPodPairs(pods(FULL_MATRIX_PODS));
    assert.equal(plan.mode, 'all');
    assert.equal(plan.pairs.length, FULL_MATRIX_PODS * (FULL_MATRIX_PODS - 1));
    assert.equal(plan.total, plan.pairs.length);
  });

  it('above it, samples SAMPLE_PER_POD pairs per pod: every pod is a source and a target that many times, never itself, no pair twice', () => {
    const list = pods(100);
    const plan = planPodPairs(list);
    assert.equal(plan.mode, 'sampled');
    assert.equal(plan.total, 9900);
    assert.equal(plan.pairs.length, 100 * SAMPLE_PER_POD);
    const from = new Map<string, number>();
    const to = new Map<string, number>();
    const seen = new Set<string>();
    for (const [a, b] of plan.pairs) {
      assert.notEqual(a, b);
      from.set(a.name, (from.get(a.name) ?? 0) + 1);
      to.set(b.name, (to.get(b.name) ?? 0) + 1);
      const key = `${a.name}>${b.name}`;
      assert.ok(!seen.has(key), key);
      seen.add(key);
    }
    for (const p of list) {
      assert.equal(from.get(p.name), SAMPLE_PER_POD);
      assert.equal(to.get(p.name), SAMPLE_PER_POD);
    }
    // Spread: node1's pod reaches nodes 2, 3, 5, 9, 17, 33 (distances 1, 2, 4, ... 32).
    assert.deepEqual(plan.pairs.filter(([a]) => a.name === 'node1-pod1').map(([, b]) => b.node), ['node2', 'node3', 'node5', 'node9', 'node17', 'node33']);
  });
});

describe('renderProbeReport', () => {
  const report = (over: Partial<ProbeReport>): ProbeReport => ({ at: 'x', mode: 'all', total: 2, cells: [], nodes: [], ...over });

  it('prints the matrix for a small lab, then the pod and node lines', () => {
    const list = pods(2);
    const out = renderProbeReport(list, report({ cells: [{ from: 'node1-pod1', to: 'node2-pod1', icmp: true, tcp: true }, { from: 'node2-pod1', to: 'node1-pod1', icmp: true, tcp: false }], nodes: [{ from: 'node1', to: 'node2', icmp: true }, { from: 'node2', to: 'node1', icmp: true }] }));
    assert.match(out, /^from \\ to {3}node1-pod1 {2}node2-pod1 {2} {3}\(ICMP\/TCP\)\nnode1-pod1 {2}- {11}ok\/ok/);
    assert.match(out, /\n1\/2 pod pairs reachable over ICMP and TCP\n2\/2 node pairs reachable: every node pinged every other node's cni0 address over the fabric$/);
  });

  it('for a big lab: no matrix, the failing pairs, and says the pairs were sampled', () => {
    const list = pods(50);
    const plan = planPodPairs(list);
    const cells = plan.pairs.map(([a, b], i) => ({ from: a.name, to: b.name, icmp: true, tcp: i !== 7 }));
    const out = renderProbeReport(list, report({ mode: 'sampled', total: plan.total, cells, nodes: [{ from: 'node3', to: 'node4', icmp: false }] }));
    assert.doesNotMatch(out, /from \\ to/);
    assert.match(out, /^failing pod pairs \(1\):\n {2}node2-pod1 -> node\d+-pod1: ICMP ok, TCP FAIL\n/);
    assert.match(out, new RegExp(`\\n${cells.length - 1}/${cells.length} pod pairs reachable over ICMP and TCP \\(sampled: ${cells.length} of the 2450 pairs, each pod to ${SAMPLE_PER_POD} others and from ${SAMPLE_PER_POD} others, spread over the nodes; probed in parallel\\)\\n`));
    assert.match(out, /\n0\/1 node pairs reachable: .*\n {2}node3 -> node4: no answer$/);
    assert.equal(allReachable({ cells, nodes: [] }), false);
    assert.equal(allReachable({ cells: cells.map((c) => ({ ...c, tcp: true })), nodes: [{ from: 'a', to: 'b', icmp: true }] }), true);
  });
});

describe('probeTwice', () => {
  const cell = (from: string, to: string, icmp: boolean, tcp: boolean): Reachability => ({ from, to, icmp, tcp });

  it('probes only the failed pairs again and marks the ones that answered then', async () => {
    const asked: Array<string[] | undefined> = [];
    const out = await probeTwice(async (only) => {
      asked.push(only && [...only].sort());
      if (!only) return [cell('a', 'b', true, true), cell('b', 'a', false, false), cell('a', 'c', true, false), cell('c', 'a', false, true)];
      return [cell('b', 'a', true, true), cell('a', 'c', false, false), cell('c', 'a', false, true)];
    });
    assert.deepEqual(asked, [undefined, ['a>c', 'b>a', 'c>a']]);
    assert.deepEqual(out, [cell('a', 'b', true, true), { ...cell('b', 'a', true, true), secondProbe: true }, cell('a', 'c', true, false), cell('c', 'a', false, true)]);
  });

  it('asks once when everything answered, and works for ICMP-only cells', async () => {
    let calls = 0;
    const ok = await probeTwice(async () => (calls++, [{ from: 'n1', to: 'n2', icmp: true }]));
    assert.equal(calls, 1);
    assert.deepEqual(ok, [{ from: 'n1', to: 'n2', icmp: true }]);
    const late = await probeTwice(async (only) => [{ from: 'n1', to: 'n2', icmp: only !== undefined }]);
    assert.deepEqual(late, [{ from: 'n1', to: 'n2', icmp: true, secondProbe: true }]);
  });

  it('the report counts the pairs that answered only the second probe, and says why that happens', () => {
    const list = pods(2);
    const out = renderProbeReport(list, { at: 'x', mode: 'all', total: 2, cells: [cell('node1-pod1', 'node2-pod1', true, true), { ...cell('node2-pod1', 'node1-pod1', true, true), secondProbe: true }], nodes: [{ from: 'node1', to: 'node2', icmp: true, secondProbe: true }, { from: 'node2', to: 'node1', icmp: true, secondProbe: true }] });
    assert.match(out, /\n2\/2 pod pairs reachable over ICMP and TCP; 1 of them only on a second probe right after the first \(a first handshake can take seconds: WireGuard peers that start at once retry after 5 s\)\n/);
    assert.match(out, /\n2\/2 node pairs reachable: every node pinged every other node's cni0 address over the fabric; 2 of them only on a second probe/);
  });
});
