import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFlanneldProcesses, parentPidOf } from './processes.ts';

describe('flanneld processes from /proc', () => {
  const proc = mkdtempSync(join(tmpdir(), 'doctor-proc-'));
  after(() => rmSync(proc, { recursive: true, force: true }));
  const add = (pid: string, argv: string[], ppid: number, net: string): void => {
    mkdirSync(join(proc, pid, 'ns'), { recursive: true });
    writeFileSync(join(proc, pid, 'cmdline'), `${argv.join('\0')}\0`);
    writeFileSync(join(proc, pid, 'environ'), 'FLANNELD_IFACE=eth0\0');
    writeFileSync(join(proc, pid, 'stat'), `${pid} (node) S ${ppid} ${pid} ${pid} 0 -1 4194560`);
    symlinkSync(net, join(proc, pid, 'ns', 'net'));
  };
  const flanneld = ['/usr/bin/node', '/opt/flannel/dist/cli/flanneld.js', '--iface=eth0'];

  it('keeps the daemons of this namespace: not a fork that has not exec\'d yet, not another namespace\'s, not other programs', async () => {
    add('self', ['doctor'], 1, 'net:[4026532001]');
    add('10', flanneld, 1, 'net:[4026532001]');
    add('11', flanneld, 10, 'net:[4026532001]'); // flanneld forked to run iptables-restore, before exec
    add('20', flanneld, 1, 'net:[4026532999]'); // another node's
    add('30', ['/usr/sbin/iptables-restore', '--noflush'], 10, 'net:[4026532001]');
    const found = await findFlanneldProcesses(proc);
    assert.deepEqual(found.map((p) => p.pid), [10]);
    assert.deepEqual(found[0]?.env, { FLANNELD_IFACE: 'eth0' });
  });

  it('reads the parent pid past a command name with spaces and parentheses', () => {
    assert.equal(parentPidOf('4321 (my (odd) name) S 77 4321 4321 0 -1'), 77);
  });
});
