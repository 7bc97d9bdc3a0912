/**
 * The fault catalogue: every fault explains itself in one line, names the seed it comes from and
 * the doctor checks that find it, and those checks are checks doctor has.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHECKS } from '../doctor/checks/index.ts';
import { FAULTS, backendUdpPort, faultById, renderFaultList } from './faults.ts';

describe('lab fault catalogue', () => {
  it('has the faults of issue 15, each with the checks that must fail (plan table)', () => {
    assert.deepEqual(Object.fromEntries(FAULTS.map((f) => [f.id, [...f.checks]])), {
      'udp-blocked': ['firewall.input-port'],
      'ip-forward-off': ['sysctl.ip-forward'],
      'forward-drop': ['firewall.forward'],
      'peer-route-missing': ['dataplane.peers', 'flanneld.process', 'flanneld.health'],
      'flanneld-stopped': ['flanneld.process', 'flanneld.health'],
      'mtu-cni0': ['mtu.pods'],
      'cni0-stale-address': ['cni.bridge-address'],
      'cni-plugin-missing': ['cni.plugins'],
      'stray-conflist': ['cni.conflist'],
      'network-overlap': ['config.network-overlap'],
    });
  });

  it('every check a fault names is one doctor runs', () => {
    const known = new Set(CHECKS.map((c) => c.id));
    for (const f of FAULTS) for (const id of f.checks) assert.ok(known.has(id), `${f.id} names check ${id}, which doctor does not have (it has: ${[...known].join(', ')})`);
  });

  it('every fault explains itself in one line and names its seed section or field problem', () => {
    for (const f of FAULTS) {
      assert.match(f.id, /^[a-z0-9]+(-[a-z0-9]+)*$/, f.id);
      assert.ok(f.explanation.length > 40 && !f.explanation.includes('\n'), `${f.id}: ${f.explanation}`);
      assert.match(f.seed, /^(seed 00[0-4]\b|field problem)/, `${f.id}: ${f.seed}`);
      assert.ok(f.checks.length > 0, f.id);
      assert.equal(faultById(f.id), f);
    }
    assert.equal(new Set(FAULTS.map((f) => f.id)).size, FAULTS.length, 'fault ids are unique');
    assert.equal(faultById('nope'), undefined);
  });

  it('--list shows each fault on its line, the seed and the checks under it', () => {
    const lines = renderFaultList().split('\n');
    assert.equal(lines.length, FAULTS.length * 2);
    FAULTS.forEach((f, i) => {
      assert.ok(lines[2 * i]?.startsWith(`  ${f.id} `) && lines[2 * i]?.endsWith(f.explanation), lines[2 * i]);
      assert.ok(lines[2 * i + 1]?.trim() === `(from ${f.seed}; doctor fails: ${f.checks.join(', ')})`, lines[2 * i + 1]);
    });
  });

  it("knows each backend's UDP port, as flanneld uses it", () => {
    const port = (Backend: Record<string, unknown> & { Type: string }): number | undefined => backendUdpPort({ Network: '10.244.0.0/16', Backend });
    assert.equal(port({ Type: 'vxlan' }), 8472);
    assert.equal(port({ Type: 'vxlan', Port: 4789 }), 4789);
    assert.equal(port({ Type: 'udp' }), 8285);
    assert.equal(port({ Type: 'wireguard' }), 51820);
    assert.equal(port({ Type: 'wireguard', ListenPort: 51830 }), 51830);
    assert.equal(port({ Type: 'host-gw' }), undefined);
    assert.equal(port({ Type: 'ipip' }), undefined);
  });
});
