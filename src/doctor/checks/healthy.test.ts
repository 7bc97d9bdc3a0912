import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECKS } from './index.ts';
import { healthyFacts, runAll, summarize, type FixtureBackend } from '../testing/facts.ts';

const BACKENDS: FixtureBackend[] = ['vxlan', 'vxlan-direct', 'host-gw', 'wireguard', 'ipip', 'udp', 'extension'];

describe('a healthy node', () => {
  for (const backend of BACKENDS) {
    for (const mode of ['etcd', 'kube'] as const) {
      it(`${backend}, ${mode} mode: no warn or fail`, () => {
        const results = runAll(healthyFacts({ backend, mode }));
        assert.deepEqual(summarize(results.filter((r) => r.status === 'warn' || r.status === 'fail')), []);
        for (const r of results) assert.ok(r.saw.length > 0, `${r.id} says what it saw`);
      });
    }
  }

  it('every result carries a documented id, every check id is unique and stable in form', () => {
    const ids = CHECKS.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[a-z]+\.[a-z0-9-]+$/);
    const results = runAll(healthyFacts());
    for (const r of results) assert.ok(ids.includes(r.id), r.id);
  });

  it('skips say why', () => {
    const skips = runAll(healthyFacts({ backend: 'host-gw' })).filter((r) => r.status === 'skip');
    assert.deepEqual(
      skips.map((r) => r.id),
      ['config.pod-cidr', 'kernel.backend-module', 'firewall.input-port', 'dataplane.device', 'vxlan.checksum-offload', 'connectivity.peers'],
    );
  });
});

describe('src/doctor/README.md', () => {
  it('documents every check id', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const c of CHECKS) assert.ok(readme.includes(`| \`${c.id}\` |`), `${c.id} in README`);
  });
});
