/**
 * The compiled plugin (bun, dist/bin/flannel as `npm run build:cni` makes it) against the same
 * plugin run from source under node, on the paths where the compiled one uses bun's own calls:
 * stdin read from start-up on, regular files mapped instead of read, ADD's and DEL's delegate run
 * without pipes. Both must leave the runtime the same stdout, stderr, exit status and files. Fake
 * delegates (shell scripts) in a temp dir; no root, no namespaces.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
/** A run that has not ended by then hangs (each takes well under a second, even under node). */
const DEADLINE_MS = 60_000;

/** Records its stdin per command in $FAKE_CALLS; answers ADD; FAKE_MODE makes it fail. */
const FAKE_BRIDGE = `#!/bin/sh
cat > "$FAKE_CALLS/$CNI_COMMAND"
case "$FAKE_MODE" in
  kill) kill -9 $$ ;;
  cni-error) printf '{\\n    "code": 7,\\n    "msg": "bad ipam"\\n}'; exit 7 ;;
esac
if [ "$CNI_COMMAND" = ADD ]; then printf '{"cniVersion":"1.0.0","ips":[]}\\n'; echo 'delegate: hello' >&2; fi
exit 0
`;

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
  /** dataDir and the delegate's recorded stdin, path -> content (or what the entry is). */
  files: Record<string, string>;
}

interface Dirs {
  dir: string;
  data: string;
  subnetFile: string;
  bin: string;
  calls: string;
}

/** stdin of a run: text, or a pipe that is never closed (with `text` written first). */
type Stdin = string | { open: string };

interface Case {
  command: string;
  stdin: (d: Dirs) => Stdin;
  env?: (d: Dirs) => Record<string, string | undefined>;
  setup?: (d: Dirs) => void;
}

function conf(d: Dirs, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile: d.subnetFile, dataDir: d.data, ...extra });
}

function snapshot(d: Dirs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const base of [d.data, d.calls]) {
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) {
      const p = join(base, name);
      const st = lstatSync(p);
      const what = st.isFile() ? readFileSync(p, 'latin1') : st.isDirectory() ? '<dir>' : st.isFIFO() ? '<fifo>' : '<other>';
      out[p.slice(d.dir.length)] = `${(st.mode & 0o777).toString(8)} ${what}`;
    }
  }
  return out;
}

function run(argv: string[], d: Dirs, c: Case): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', FAKE_CALLS: d.calls, CNI_COMMAND: c.command };
    const base = { CNI_CONTAINERID: 'ctr1', CNI_NETNS: '/var/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: d.bin };
    for (const [k, v] of Object.entries({ ...base, ...(c.env?.(d) ?? {}) })) if (v !== undefined) env[k] = v;
    const child = spawn(argv[0] as string, argv.slice(1), { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${c.command} did not end within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')));
    child.stdin.on('error', () => undefined); // the plugin may exit before reading all of it
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ status, stdout, stderr, files: snapshot(d) });
    });
    const input = c.stdin(d);
    if (typeof input === 'string') child.stdin.end(input);
    else child.stdin.write(input.open);
  });
}

describe('compiled plugin (bun) and source (node) answer alike', () => {
  let top = '';
  let compiled = '';
  let skipReason = '';
  const source = [process.execPath, '--import', 'tsx', join(root, 'src/cli/flannel-cni.ts')];

  before(() => {
    top = mkdtempSync(join(tmpdir(), 'flt-cni-compiled-'));
    compiled = join(top, 'flannel');
    const build = spawnSync(process.execPath, [join(root, 'scripts/build-cni.mjs'), '--outfile', compiled], { encoding: 'utf8' });
    if (build.status !== 0) {
      if (!/no bun binary found/.test(build.stderr)) assert.fail(`building the plugin failed: ${build.stdout}${build.stderr}`);
      skipReason = 'no bun binary (run npm ci)';
    }
  });
  after(() => rmSync(top, { recursive: true, force: true }));

  let caseNo = 0;
  /** A fresh case dir: the same path for both runs, so messages naming paths compare. */
  function fresh(name: string, c: Case): Dirs {
    const dir = join(top, name);
    rmSync(dir, { recursive: true, force: true });
    const d: Dirs = { dir, data: join(dir, 'data'), subnetFile: join(dir, 'subnet.env'), bin: join(dir, 'bin'), calls: join(dir, 'calls') };
    mkdirSync(d.bin, { recursive: true });
    mkdirSync(d.calls);
    writeFileSync(d.subnetFile, SUBNET_ENV);
    writeFileSync(join(d.bin, 'bridge'), FAKE_BRIDGE);
    chmodSync(join(d.bin, 'bridge'), 0o755);
    c.setup?.(d);
    return d;
  }

  async function both(c: Case): Promise<{ bun: Outcome; node: Outcome; dirs: Dirs }> {
    const name = `case${++caseNo}`;
    const bun = await run([compiled], fresh(name, c), c);
    const dirs = fresh(name, c);
    const node = await run(source, dirs, c);
    return { bun, node, dirs };
  }

  /** Same outcome from both; returns it. */
  async function alike(c: Case): Promise<Outcome & { dirs: Dirs }> {
    const { bun, node, dirs } = await both(c);
    assert.deepEqual(bun, node);
    return { ...bun, dirs };
  }

  const cases = (name: string, fn: () => Promise<void>): void => {
    it(name, async (t) => {
      if (skipReason) {
        t.skip(skipReason);
        return;
      }
      await fn();
    });
  };

  cases('ADD: the delegate reads the saved configuration and answers on our stdout and stderr', async () => {
    const o = await alike({ command: 'ADD', stdin: conf });
    assert.equal(o.status, 0);
    assert.equal(o.stdout, '{"cniVersion":"1.0.0","ips":[]}\n');
    assert.equal(o.stderr, 'delegate: hello\n');
    const saved = o.files['/data/ctr1'] ?? '';
    assert.match(saved, /^600 \{"cniVersion":"1\.0\.0",/);
    assert.equal(o.files['/calls/ADD'], `644 ${saved.slice(4)}`);
  });

  cases('ADD: a delegate killed by a signal is code 999 naming it; the saved file stays for DEL', async () => {
    const o = await alike({ command: 'ADD', stdin: conf, env: () => ({ FAKE_MODE: 'kill' }) });
    assert.equal(o.status, 1);
    assert.match(o.stdout, /"code":999,"msg":"plugin \/\S+\/bin\/bridge \(ADD\) was killed by SIGKILL without a CNI error result"/);
    assert.ok(o.files['/data/ctr1']);
  });

  cases("ADD: the compiled plugin hands the delegate's own CNI error to the runtime byte for byte", async () => {
    const c: Case = { command: 'ADD', stdin: conf, env: () => ({ FAKE_MODE: 'cni-error' }) };
    const { bun, node } = await both(c);
    assert.equal(bun.status, 7);
    assert.equal(bun.stdout, '{\n    "code": 7,\n    "msg": "bad ipam"\n}');
    // Under node the error is re-rendered (same code, message and files).
    assert.equal(node.status, 1);
    assert.deepEqual(JSON.parse(node.stdout), { cniVersion: '1.0.0', code: 7, msg: 'bad ipam', details: '' });
    assert.deepEqual(bun.files, node.files);
  });

  const subnetEnvs: Array<[string, (d: Dirs) => void]> = [
    ['with CRLF line ends', (d) => writeFileSync(d.subnetFile, SUBNET_ENV.replaceAll('\n', '\r\n'))],
    ['with a UTF-8 byte order mark', (d) => writeFileSync(d.subnetFile, `\ufeff${SUBNET_ENV}`)],
    ['with invalid UTF-8 in a comment', (d) => writeFileSync(d.subnetFile, Buffer.concat([Buffer.from('# \xff\xfe\x80 x\n', 'latin1'), Buffer.from(SUBNET_ENV)]))],
    ['that is empty', (d) => writeFileSync(d.subnetFile, '')],
    ['that is a directory', (d) => (rmSync(d.subnetFile), mkdirSync(d.subnetFile))],
    ['that is missing', (d) => rmSync(d.subnetFile)],
    ['of exactly 64 KiB', (d) => writeFileSync(d.subnetFile, SUBNET_ENV + '#'.repeat(64 * 1024 - SUBNET_ENV.length - 1) + '\n')],
    ['of 64 KiB and a byte', (d) => writeFileSync(d.subnetFile, SUBNET_ENV + '#'.repeat(64 * 1024 - SUBNET_ENV.length) + '\n')],
    ['behind a symlink', (d) => (writeFileSync(join(d.dir, 'real.env'), SUBNET_ENV), rmSync(d.subnetFile), symlinkSync(join(d.dir, 'real.env'), d.subnetFile))],
    ['of /proc (size 0 until read)', (d) => (rmSync(d.subnetFile), symlinkSync('/proc/sys/kernel/ostype', d.subnetFile))],
  ];
  for (const [what, setup] of subnetEnvs) {
    cases(`ADD with a subnet.env ${what}`, async () => {
      await alike({ command: 'ADD', stdin: conf, setup });
    });
  }

  cases('DEL replays what ADD saved and removes it', async () => {
    const o = await alike({
      command: 'DEL',
      stdin: conf,
      setup: (d) => (mkdirSync(d.data), writeFileSync(join(d.data, 'ctr1'), '{"cniVersion":"1.0.0","name":"cbr0","type":"bridge"}', { mode: 0o600 })),
    });
    assert.equal(o.status, 0);
    assert.deepEqual(o.files, { '/calls/DEL': '644 {"cniVersion":"1.0.0","name":"cbr0","type":"bridge"}' });
  });

  const savedFiles: Array<[string, (d: Dirs) => void]> = [
    ['empty', (d) => (mkdirSync(d.data), writeFileSync(join(d.data, 'ctr1'), ''))],
    ['not JSON', (d) => (mkdirSync(d.data), writeFileSync(join(d.data, 'ctr1'), '{"type":'))],
    ['a directory', (d) => mkdirSync(join(d.data, 'ctr1'), { recursive: true })],
    ['a FIFO', (d) => (mkdirSync(d.data), assert.equal(spawnSync('mkfifo', [join(d.data, 'ctr1')]).status, 0))],
  ];
  for (const [what, setup] of savedFiles) {
    cases(`DEL of a saved file that is ${what}`, async () => {
      await alike({ command: 'DEL', stdin: conf, setup });
    });
  }

  const savedBridge = (d: Dirs): void => (mkdirSync(d.data), writeFileSync(join(d.data, 'ctr1'), '{"type":"bridge"}'));

  cases("DEL keeps the saved file when the delegate fails; the compiled plugin hands on the delegate's error byte for byte", async () => {
    const { bun, node } = await both({ command: 'DEL', stdin: conf, env: () => ({ FAKE_MODE: 'cni-error' }), setup: savedBridge });
    assert.equal(bun.status, 7);
    assert.equal(bun.stdout, '{\n    "code": 7,\n    "msg": "bad ipam"\n}');
    assert.equal(node.status, 1);
    assert.deepEqual(JSON.parse(node.stdout), { cniVersion: '1.0.0', code: 7, msg: 'bad ipam', details: '' });
    assert.ok(bun.files['/data/ctr1']);
    assert.deepEqual(bun.files, node.files);
  });

  cases('DEL: a delegate killed by a signal is code 999 naming it; the saved file stays for the retry', async () => {
    const o = await alike({ command: 'DEL', stdin: conf, env: () => ({ FAKE_MODE: 'kill' }), setup: savedBridge });
    assert.equal(o.status, 1);
    assert.match(o.stdout, /"code":999,"msg":"plugin \/\S+\/bin\/bridge \(DEL\) was killed by SIGKILL without a CNI error result"/);
    assert.ok(o.files['/data/ctr1']);
  });

  cases('a bad CNI_CONTAINERID is answered while stdin is still open (stdin is read from start-up on)', async () => {
    const o = await alike({ command: 'ADD', stdin: (d) => ({ open: conf(d) }), env: () => ({ CNI_CONTAINERID: 'a/b' }) });
    assert.equal(o.status, 1);
    assert.match(o.stdout, /"code":4,"msg":"invalid characters in containerID"/);
  });

  cases('VERSION answers without waiting for stdin', async () => {
    const o = await alike({ command: 'VERSION', stdin: () => ({ open: '{"cniVersion":"1.0.0"}' }) });
    assert.equal(o.status, 0);
  });

  cases('stdin of exactly 1 MiB is read whole; a byte more is code 5', async () => {
    const padded = (d: Dirs, size: number): string => {
      const base = conf(d, { pad: '' });
      return base.replace('"pad":""', `"pad":"${'x'.repeat(size - base.length)}"`);
    };
    assert.equal((await alike({ command: 'CHECK', stdin: (d) => padded(d, 1024 * 1024) })).status, 0);
    const o = await alike({ command: 'CHECK', stdin: (d) => padded(d, 1024 * 1024 + 1) });
    assert.match(o.stdout, /"code":5,/);
  });
});
