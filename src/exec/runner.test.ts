import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('execRunner with env and timeoutMs', () => {
  const runner = execRunner();

  it('adds env to the inherited environment', async () => {
    const res = await runner.run('sh', ['-c', 'printf "%s|%s|%s" "$SUBNET" "$LC_ALL" "${PATH:+path}"'], { env: { SUBNET: '10.244.2.0/24' } });
    assert.deepEqual(res, { stdout: '10.244.2.0/24|C|path', stderr: '', code: 0 });
  });

  it('leaves a command that finishes in time alone', async () => {
    const res = await runner.run('sh', ['-c', 'cat; exit 4'], { stdin: 'x\n', timeoutMs: 30_000 });
    assert.deepEqual(res, { stdout: 'x\n', stderr: '', code: 4 });
  });

  it('kills the whole process group on timeout: the shell and what it started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flt-exec-'));
    try {
      const pidFile = join(dir, 'sleep.pid');
      const res = await runner.run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; echo started; wait`], { timeoutMs: 300 });
      assert.deepEqual(res, { stdout: 'started\n', stderr: '', code: 137, timedOut: true });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      await waitGone(pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills the whole process group when aborted, rejecting with the abort reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flt-exec-'));
    try {
      const pidFile = join(dir, 'sleep.pid');
      const ac = new AbortController();
      const p = runner.run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], { timeoutMs: 60_000, signal: ac.signal });
      const deadline = Date.now() + 15_000;
      while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
        if (Date.now() > deadline) throw new Error('the command did not start within 15 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      ac.abort();
      await assert.rejects(p, { name: 'AbortError' });
      await waitGone(Number(readFileSync(pidFile, 'utf8')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Resolves once no process has this pid (or it is a zombie awaiting its parent). */
async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let state = '';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '';
    } catch {
      return;
    }
    if (state === 'Z') return;
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running (state ${state})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
