import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeFacts } from '../facts.ts';
import { FLANNEL_CONFLIST, healthyFacts, resultOf } from '../testing/facts.ts';

const withConf = (files: Array<{ name: string; text: string }>): NodeFacts => {
  const base = healthyFacts();
  return { ...base, cni: { ...base.cni, confFiles: { value: files } } };
};

describe('cni', () => {
  it('no flannel config at all: fail with where it comes from', () => {
    const r = resultOf('cni.conflist', withConf([]));
    assert.equal(r.status, 'fail');
    assert.match(r.fix ?? '', /10-flannel\.conflist \(kube-flannel's install-cni init container/);
  });

  it('an unreadable conf dir: fail; plugins skip', () => {
    const base = healthyFacts();
    const f = { ...base, cni: { ...base.cni, confFiles: { error: 'ENOENT' } } };
    assert.equal(resultOf('cni.conflist', f).status, 'fail');
    assert.equal(resultOf('cni.plugins', f).status, 'skip');
  });

  it('a broken file sorting first wins too', () => {
    const r = resultOf('cni.conflist', withConf([{ name: '05-old.conf', text: '{"cniVersion":' }, { name: '10-flannel.conflist', text: FLANNEL_CONFLIST }]));
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /05-old\.conf sorts before 10-flannel\.conflist, so the runtime uses it \(not JSON/);
  });

  it('plugins: a custom delegate and ipam are required too, across several bin dirs', () => {
    const conf = JSON.stringify({ name: 'cbr0', cniVersion: '0.3.1', plugins: [{ type: 'flannel', delegate: { type: 'ipvlan' }, ipam: { type: 'whereabouts' } }, { type: 'bandwidth' }] });
    const base = withConf([{ name: '10-flannel.conflist', text: conf }]);
    const f = { ...base, cni: { ...base.cni, binDirs: [{ dir: '/opt/cni/bin', plugins: { value: ['flannel', 'bandwidth'] } }, { dir: '/usr/lib/cni', plugins: { value: ['ipvlan'] } }] } };
    const r = resultOf('cni.plugins', f);
    assert.equal(r.status, 'fail');
    assert.match(r.saw, /needs flannel, ipvlan, whereabouts, bandwidth; missing from \/opt\/cni\/bin, \/usr\/lib\/cni: whereabouts/);
  });

  it('no cni0 yet: bridge address and pod MTU skip', () => {
    const base = healthyFacts();
    const k = 'value' in base.kernel ? base.kernel.value : undefined;
    assert.ok(k);
    const f = { ...base, kernel: { value: { ...k, links: k.links.filter((l) => l.name !== 'cni0' && l.kind !== 'veth'), addrs: k.addrs.filter((a) => a.linkIndex !== 3) } } };
    assert.equal(resultOf('cni.bridge-address', f).status, 'skip');
    assert.equal(resultOf('mtu.pods', f).status, 'skip');
  });
});
