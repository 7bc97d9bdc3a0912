/** The plugin's node entry point as a process: stdout, stderr and exit status (no root needed). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const run = (env: Record<string, string>, input = '') =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/flannel-cni.ts'], { encoding: 'utf8', input, env: { PATH: process.env.PATH ?? '', ...env } });

describe('flannel (CNI plugin) entry point', () => {
  it('VERSION prints the supported versions and exits 0', () => {
    const r = run({ CNI_COMMAND: 'VERSION' });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
  });
  it('without CNI_COMMAND says what it is on stderr and exits 0', () => {
    const r = run({});
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^CNI Plugin flannel \(flannel-ts\) version \d+\.\d+\.\d+\nCNI protocol versions supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0\n$/);
  });
  it('a failure is a CNI error result on stdout with exit status 1', () => {
    const r = run({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, '{"cniVersion":"0.3.1"}');
    assert.equal(r.status, 1);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: '0.3.1', code: 7, msg: 'missing network name', details: '' });
  });
  it('refuses a stdin over 1 MiB with code 5, after reading at most one chunk more (no root needed)', () => {
    const big = JSON.stringify({ cniVersion: '1.0.0', name: 'n', pad: 'x'.repeat(1024 * 1024) });
    const r = run({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'abc', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, big);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, '');
    assert.deepEqual(JSON.parse(r.stdout), {
      cniVersion: '1.1.0',
      code: 5,
      msg: "error reading from stdin: the network configuration is larger than 1 MiB (1048576 bytes), the plugin's limit",
      details:
        'a flannel network configuration is a few hundred bytes, a few KiB with what the runtime adds (prevResult, runtimeConfig, the attachment list of GC); ' +
        'check what the runtime passes on stdin: the flannel entry of the conflist in /etc/cni/net.d',
    });
  });
  it('reads a configuration larger than a pipe buffer', () => {
    const big = JSON.stringify({ cniVersion: '1.0.0', name: 'n', pad: 'x'.repeat(300_000) });
    const r = run({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'abc', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, big);
    assert.equal(r.status, 0, r.stdout);
  });
});
