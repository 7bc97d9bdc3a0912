import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TrafficError } from '../errors/index.ts';
import { commandFailed, execRunner, runChecked } from './runner.ts';

describe('execRunner', () => {
  const runner = execRunner();

  it('feeds stdin and collects stdout, stderr and the exit code', async () => {
    const res = await runner.run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { stdin: '*nat\nCOMMIT\n' });
    assert.deepEqual(res, { stdout: '*nat\nCOMMIT\n', stderr: 'oops\n', code: 3 });
  });

  it('reports a missing command as code 127', async () => {
    const res = await runner.run('flannel-ts-no-such-command', []);
    assert.equal(res.code, 127);
    await assert.rejects(runChecked(runner, 'flannel-ts-no-such-command', ['-w']), { code: 'E_TRAFFIC_NOT_FOUND' });
  });

  it('kills the command and rejects with an AbortError when aborted', async () => {
    const ac = new AbortController();
    const p = runner.run('sleep', ['10'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { name: 'AbortError' });
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
