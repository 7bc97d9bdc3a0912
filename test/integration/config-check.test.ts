/** `flannel-ts config check` runs the validation flanneld runs at start, Backend section included, and warns where flanneld warns. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('flannel-ts config check, as flanneld checks', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'flt-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const check = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return { path, ...spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/flannel-ts.ts', 'config', 'check', path], { encoding: 'utf8' }) };
  };

  it('rejects a bad backend key with the message flanneld stops with', () => {
    const r = check('vni.json', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":"x"}}');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `flannel-ts: error: ${r.path}: Backend.VNI must be a whole number from 0 to 16777215, got string "x"\n` +
        'flannel-ts: hint: fix the Backend section of the network configuration (net-conf.json or the etcd key <prefix>/config) and restart flanneld\n',
    );
  });
  it('rejects an IPv4-only backend with IPv6 enabled, as flanneld refuses it before writing anything', () => {
    const r = check('udp6.json', '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"udp"}}');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `flannel-ts: error: ${r.path}: the udp backend carries IPv4 only, but EnableIPv6 is true\n` +
        'flannel-ts: hint: set "EnableIPv6": false (and leave out IPv6Network), or use a backend that carries IPv6 (vxlan, wireguard, host-gw)\n',
    );
  });
  it('rejects a network that cannot work', () => {
    const r = check('all.json', '{"Network":"0.0.0.0/0"}');
    assert.equal(r.status, 1);
    assert.equal(r.stderr.split('\n')[0], `flannel-ts: error: ${r.path}: Network 0.0.0.0/0 cannot be a pod network: it is the whole IPv4 address space, so pod traffic could not be told from any other traffic`);
  });
  it("prints flanneld's warnings: a Network where LANs sit, a key the backend does not know", () => {
    const r = check('lan.json', '{"Network":"192.168.0.0/16","Backend":{"Type":"host-gw","VNI":1}}');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith('warning: ')), [
      "warning: Network 192.168.0.0/16 overlaps 192.168.0.0/16, where home and office LANs commonly sit: if a node's own network lies in it, pods cannot reach that network and flanneld will not lease the subnets it covers; a range such as 10.244.0.0/16 avoids this",
      'warning: Backend.VNI is not a host-gw setting and is ignored (host-gw settings: none)',
    ]);
    assert.match(r.stdout, new RegExp(`${r.path.replace(/\//g, '\\/')}: OK\\n$`));
  });
});
