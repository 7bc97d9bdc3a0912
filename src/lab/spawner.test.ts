import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, run } from './spawner.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('lab/spawner', () => {
  it('runs a command and returns its exit code, stdout and stderr', async () => {
    const r = await run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(r, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });

  it('passes arguments byte for byte: spaces, newlines, quotes, non-ASCII, empty ones', async () => {
    const args = ['a b', 'line1\nline2', `'"$x\\`, 'é✓', '', '-', ''];
    const r = await run(['printf', '[%s]', ...args]);
    assert.equal(r.stdout, args.map((a) => `[${a}]`).join(''));
  });

  it('feeds stdin and sets exactly the environment given', async () => {
    const r = await run(['sh', '-c', 'cat; echo "$FOO|${HOME-unset}"'], { input: 'in put\n', env: { FOO: 'a=b c', PATH: process.env.PATH } });
    assert.equal(r.stdout, 'in put\na=b c|unset\n');
    const inherited = await run(['sh', '-c', 'echo "$PATH"']);
    assert.equal(inherited.stdout.trim(), process.env.PATH);
  });

  it('ends a command that runs past its timeout with SIGALRM', async () => {
    const r = await run(['sleep', '30'], { timeoutMs: 1000 });
    assert.equal(r.code, null);
    assert.equal(r.signal, 'SIGALRM');
  });

  it('says 127 and why for a command that does not exist', async () => {
    const r = await run(['/nonexistent/flannel-ts-no-such-command']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /cannot run \/nonexistent\/flannel-ts-no-such-command: No such file or directory/);
  });

  it('runs many at once and gives each its own output', async () => {
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => run(['sh', '-c', `sleep 0.0$((${i} % 5)); echo ${i}`])));
    assert.deepEqual(
      rs.map((r) => r.stdout),
      rs.map((_, i) => `${i}\n`),
    );
  });

  it('launches a server detached: it outlives its start and is not waited for', async () => {
    const pid = await launch(['sleep', '30']);
    try {
      assert.ok(pid > 0 && alive(pid), `pid ${pid}`);
      const sid = spawnSync('ps', ['-o', 'sid=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
      assert.equal(sid, String(pid), 'in a session of its own');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('appends a launched server\'s output to its log and runs it in the directory given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flannel-ts-spawner-test-'));
    try {
      const log = join(dir, 'server.log');
      writeFileSync(log, 'before\n');
      await launch(['sh', '-c', 'echo "out $(pwd)"; echo err >&2'], { log, cwd: dir });
      const deadline = Date.now() + 10_000;
      while (!readFileSync(log, 'utf8').includes('err') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(readFileSync(log, 'utf8'), `before\nout ${dir}\nerr\n`);
      const r = await run(['pwd'], { cwd: '/nonexistent-flannel-ts' });
      assert.equal(r.code, 127);
      assert.match(r.stderr, /cannot change to \/nonexistent-flannel-ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not keep a process alive once nothing waits, and leaves no files behind', () => {
    const script = `import { run } from ${JSON.stringify(new URL('./spawner.ts', import.meta.url).pathname)}; const r = await run(['echo', 'hi']); console.log(r.stdout.trim());`;
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('flannel-ts-spawner-')));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'hi');
    // The spawner removes its directory when our end of its stdin closes; give it a moment.
    const deadline = Date.now() + 10_000;
    let left: string[] = [];
    do {
      left = readdirSync(tmpdir()).filter((f) => f.startsWith('flannel-ts-spawner-') && !before.has(f) && existsSync(`${tmpdir()}/${f}`));
    } while (left.length > 0 && Date.now() < deadline && (spawnSync('sleep', ['0.1']), true));
    assert.deepEqual(left, []);
  });
});
