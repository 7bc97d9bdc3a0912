/** The installed entry points behave as commands: help, version, exit codes, messages. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (entry: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${entry}.ts`, ...args], { encoding: 'utf8' });

describe('flanneld command line', () => {
  it('--help lists flags with defaults and exits 0', () => {
    const r = run('flanneld', ['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--etcd-endpoints string\n\s+a comma-delimited list of etcd endpoints \(default "http:\/\/127\.0\.0\.1:4001,http:\/\/127\.0\.0\.1:2379"\)/);
    assert.match(r.stdout, /--subnet-lease-renew-margin int/);
  });
  it('--version prints the version', () => {
    const r = run('flanneld', ['-version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
  it('a bad flag exits 2 with error and hint', () => {
    const r = run('flanneld', ['--ip-masq=perhaps']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'flanneld: error: --ip-masq must be true or false, got "perhaps"\nflanneld: hint: run "flanneld --help" for the list of flags\n');
  });
});

describe('flannel-ts config check', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'flt-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('prints the effective pool for a good file', () => {
    const p = join(dir, 'good.json');
    writeFileSync(p, '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
    const r = run('flannel-ts', ['config', 'check', p]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /IPv4: network 10\.244\.0\.0\/16, \/24 per node, subnets 10\.244\.1\.0\/24 \.\. 10\.244\.255\.0\/24 \(255 nodes\)/);
    assert.match(r.stdout, /backend: host-gw; traffic rules: iptables/);
  });
  it('names the file, key and rule for a bad one', () => {
    const p = join(dir, 'bad.json');
    writeFileSync(p, '{"Network":"10.244.0.0/16","SubnetLen":8}');
    const r = run('flannel-ts', ['config', 'check', p]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`flannel-ts: error: ${p.replace(/\//g, '\\/')}: SubnetLen 8 is too short for Network 10\\.244\\.0\\.0\\/16`));
  });
  it('unknown commands exit 2 with usage', () => {
    const r = run('flannel-ts', ['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
