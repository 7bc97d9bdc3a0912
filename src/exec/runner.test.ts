import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execRunner } from './runner.ts';

describe('execRunner', () => {
  const runner = execRunner();

  it('feeds stdin and collects stdout, stderr and the exit code', async () => {
    const res = await runner.run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { stdin: '*nat\nCOMMIT\n' });
    assert.deepEqual(res, { stdout: '*nat\nCOMMIT\n', stderr: 'oops\n', code: 3 });
  });

  it('reports a missing command as code 127', async () => {
    const res = await runner.run('flannel-ts-no-such-command', []);
    assert.deepEqual(res, { stdout: '', stderr: 'flannel-ts-no-such-command: command not found', code: 127 });
  });

  it('kills the command and rejects with an AbortError when aborted', async () => {
    const ac = new AbortController();
    const p = runner.run('sleep', ['10'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { name: 'AbortError' });
  });
});
