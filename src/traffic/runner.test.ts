import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TrafficError } from '../errors/index.ts';
import { commandFailed, execRunner, runChecked } from './runner.ts';

describe('runChecked', () => {
  it('turns a missing command into E_TRAFFIC_NOT_FOUND, naming what to install', async () => {
    await assert.rejects(runChecked(execRunner(), 'flannel-ts-no-such-command', ['-w']), {
      code: 'E_TRAFFIC_NOT_FOUND',
      message: 'flannel-ts-no-such-command was not found (running "flannel-ts-no-such-command -w")',
      hint: 'install flannel-ts-no-such-command (package iptables or nftables) or choose the other engine with EnableNFTables',
    });
  });
});

describe('commandFailed', () => {
  it('names the command and carries its stderr', () => {
    const err = commandFailed('iptables-restore', ['-w', '--noflush'], { stdout: '', stderr: 'iptables-restore: line 2 failed\n', code: 1 }, '*nat\n');
    assert.ok(err instanceof TrafficError);
    assert.equal(err.message, '"iptables-restore -w --noflush" failed with exit code 1: iptables-restore: line 2 failed');
    assert.equal(err.hint, 'to see the failure yourself, feed this to "iptables-restore -w --noflush":\n*nat\n');
  });
});
