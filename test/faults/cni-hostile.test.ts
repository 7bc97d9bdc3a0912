/**
 * Fault suite: hostile input to the flannel CNI plugin (issue 12). Every case runs both shipped
 * forms of the plugin as processes, the compiled `dist/bin/flannel` (bun) and
 * `node dist/cli/flannel-cni.js`, and asserts what the runtime sees: the exact CNI error (code,
 * msg, details where they do not depend on the JavaScript engine) as the only line on stdout,
 * the exit status (1 for an error, 0 for success), no stack trace on stderr, nothing written
 * (no saved delegate, no delegate run, no file in dataDir) and the plugin's peak RSS.
 *
 * Peak RSS comes from `/usr/bin/time -f %M` when installed (getrusage of the child, exact);
 * otherwise from sampling /proc/<pid>/status VmHWM every 10 ms, which cannot miss the failure
 * it guards against: a plugin reading /dev/zero into memory grows ~0.5 GB/s for as long as
 * it runs.
 *
 * No namespace is needed: a failing ADD never reaches the delegate, and where a delegate is asked
 * (STATUS, GC, VERSION probes) it is a stub in the case's temp dir that records each call.
 * Everything lives in one temp dir, removed at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnlessPrivileged } from '../harness/privileges.ts';

const skip = skipUnlessPrivileged(['mkfifo']);
const root = new URL('../..', import.meta.url).pathname;
const COMPILED = join(root, 'dist/bin/flannel');
const NODE_ENTRY = join(root, 'dist/cli/flannel-cni.js');
const TIME = '/usr/bin/time';
const hasTime = existsSync(TIME);
/** Generous: the plugin needs ~25-50 MiB; an unbounded read passes this within a second. */
const RSS_LIMIT_KIB = 200 * 1024;
/** A case that has not ended by then hangs (a loaded 2-core box finishes each in well under 1 s). */
const DEADLINE_MS = 60_000;

const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const VERSIONS = '"0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"';
const SUBNET_KEY_HINT = 'Check "subnetFile" in the network configuration (default /run/flannel/subnet.env)';
const SUBNET_KEY_DETAILS = '"subnetFile" must name the subnet.env flanneld writes (its --subnet-file, default /run/flannel/subnet.env)';
const STDIN_TOO_LARGE = {
  code: 5,
  msg: "error reading from stdin: the network configuration is larger than 1 MiB (1048576 bytes), the plugin's limit",
  details:
    'a flannel network configuration is a few hundred bytes, a few KiB with what the runtime adds (prevResult, runtimeConfig, the attachment list of GC); ' +
    'check what the runtime passes on stdin: the flannel entry of the conflist in /etc/cni/net.d',
};
const subnetTooLarge = (p: string) => ({
  code: 999,
  msg: `flannel subnet file ${p} is larger than 64 KiB (65536 bytes), the limit for a subnet.env. ${SUBNET_KEY_HINT}`,
  details: `flanneld writes a subnet.env of a few hundred bytes (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ); ${p} is something else`,
});
const clipped = (s: string, max: number) => `${s.slice(0, max)}... (${s.length} characters)`;

interface Binary {
  name: string;
  argv: string[];
}
const BINARIES: Binary[] = [
  { name: 'compiled (bun)', argv: [COMPILED] },
  { name: 'node', argv: [process.execPath, NODE_ENTRY] },
];

/** What goes to the plugin's stdin. */
type Input = string | Buffer | { endless: string } | { file: string };

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS in KiB, when measured. */
  rssKiB: number | undefined;
  ms: number;
}

interface CaseDir {
  dir: string;
  data: string;
  subnetFile: string;
  bin: string;
  /** Where the stub delegate records each call (`<command>` files). */
  calls: string;
}

interface ErrorExpect {
  code: number;
  msg: string;
  /** Exact, a pattern, or absent for "any non-empty text" (engine-specific parser messages). */
  details?: string | RegExp;
  cniVersion?: string;
}

interface HostileCase {
  name: string;
  command: string | undefined;
  /** The network configuration (an object is merged over the case's base config), or raw stdin. */
  stdin: (c: CaseDir) => Input;
  env?: (c: CaseDir) => Record<string, string | undefined>;
  /** Prepares the case dir (files in dataDir, a FIFO, ...). */
  setup?: (c: CaseDir) => void;
  expect: ErrorExpect | { success: true; stdout?: string; stderr?: string | RegExp };
  /** Delegate calls allowed (by default none). */
  delegateCalls?: string[];
  /** Checks what is left in the case dir; default: dataDir does not exist. */
  leftBehind?: (c: CaseDir) => void;
  /** Record the RSS in the report (the big-input cases). */
  reportRss?: boolean;
}

function conf(c: CaseDir, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile: c.subnetFile, dataDir: c.data, ...extra });
}

/** A configuration padded with an unknown key to exactly `bytes` bytes. */
function paddedConf(c: CaseDir, bytes: number, extra: Record<string, unknown> = {}): string {
  const base = conf(c, { ...extra, pad: '' });
  const text = base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - Buffer.byteLength(base))}"`);
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

const ADD_ENV = (c: CaseDir): Record<string, string> => ({ CNI_CONTAINERID: 'hostile1', CNI_NETNS: '/var/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: c.bin });

function readPeakRss(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const n = Number(lines[lines.length - 1]);
  return Number.isFinite(n) ? n : undefined;
}

function sampleVmHwm(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts one plugin run the way a runtime does (env + stdin), measuring its peak RSS. */
function runPlugin(bin: Binary, command: string | undefined, input: Input, env: Record<string, string | undefined>, rssFile: string): Promise<Outcome> {
  const argv = hasTime ? [TIME, '-f', '%M', '-o', rssFile, ...bin.argv] : bin.argv;
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (command !== undefined) fullEnv.CNI_COMMAND = command;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const stdinFd = typeof input === 'object' && 'file' in input ? openSync(input.file, 'r') : undefined;
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let child: ChildProcess;
    try {
      // Its own process group, so the deadline can kill the plugin under /usr/bin/time too.
      child = spawn(argv[0] as string, argv.slice(1), { env: fullEnv, stdio: [stdinFd ?? 'pipe', 'pipe', 'pipe'], detached: true });
    } finally {
      if (stdinFd !== undefined) closeSync(stdinFd);
    }
    let stdout = '';
    let stderr = '';
    let sampled: number | undefined;
    let ended = false;
    const sampler = hasTime
      ? undefined
      : setInterval(() => {
          const v = sampleVmHwm(child.pid);
          if (v !== undefined) sampled = Math.max(sampled ?? 0, v);
        }, 10);
    const deadline = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, DEADLINE_MS);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      ended = true;
      clearTimeout(deadline);
      if (sampler) clearInterval(sampler);
      const rssKiB = hasTime ? readPeakRss(rssFile) : sampled;
      resolve({ status, signal, stdout, stderr, rssKiB, ms: Number(process.hrtime.bigint() - start) / 1e6 });
    });
    const sink = child.stdin;
    if (!sink) return;
    sink.on('error', () => undefined); // the plugin may exit without reading (VERSION) or stop early (EPIPE)
    if (typeof input === 'string' || Buffer.isBuffer(input)) {
      sink.end(input);
    } else if ('endless' in input) {
      // A writer that never closes: as much as the pipe takes, for as long as the plugin runs.
      const chunk = Buffer.from(input.endless.repeat(Math.ceil(65536 / input.endless.length)));
      const pump = (): void => {
        while (!ended && !sink.destroyed && sink.write(chunk));
        if (!ended && !sink.destroyed) sink.once('drain', pump);
      };
      pump();
    }
  });
}

function assertNoCrash(o: Outcome, what: string): void {
  assert.notEqual(o.signal, 'SIGKILL', `${what}: still running after ${DEADLINE_MS} ms (killed)`);
  assert.equal(o.signal, null, `${what}: killed by ${o.signal}`);
  assert.doesNotMatch(o.stderr, /^\s+at |\bBun v\d|node:internal|TypeError|RangeError|Maximum call stack|panic/m, `${what}: stack trace or crash on stderr:\n${o.stderr}`);
}

describe('fault: hostile CNI input', { skip }, () => {
  let top: string;
  let caseNo = 0;
  const rssReport: string[] = [];

  before(() => {
    for (const [file, build] of [
      [COMPILED, 'npm run build:cni'],
      [NODE_ENTRY, 'npm run build'],
    ] as const) {
      assert.ok(existsSync(file), `${file} is missing: run ${build} (scripts/setup.sh does)`);
      const built = statSync(file).mtimeMs;
      const newer = [join(root, 'src/cni'), join(root, 'src/cli/flannel-cni.ts')].flatMap(listTs).filter((f) => statSync(f).mtimeMs > built);
      assert.deepEqual(newer, [], `${file} is older than its sources: run ${build}`);
    }
    top = mkdtempSync(join(tmpdir(), 'flt-cni-hostile-'));
  });

  after(() => {
    if (rssReport.length > 0) console.log(`peak RSS (${hasTime ? '/usr/bin/time' : 'VmHWM samples'}):\n${rssReport.map((l) => `  ${l}`).join('\n')}`);
    if (top) rmSync(top, { recursive: true, force: true });
  });

  function newCase(): CaseDir {
    const dir = join(top, `case${++caseNo}`);
    const c: CaseDir = { dir, data: join(dir, 'data'), subnetFile: join(dir, 'subnet.env'), bin: join(dir, 'bin'), calls: join(dir, 'calls') };
    mkdirSync(c.bin, { recursive: true });
    mkdirSync(c.calls);
    writeFileSync(c.subnetFile, SUBNET_ENV);
    // A delegate that records each call; it speaks 1.0.0, so STATUS and GC do not call it beyond VERSION.
    writeFileSync(
      join(c.bin, 'bridge'),
      `#!/bin/sh\ncat > /dev/null\ntouch "${c.calls}/$CNI_COMMAND"\n` +
        `if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","1.0.0"]}'; fi\nexit 0\n`,
    );
    chmodSync(join(c.bin, 'bridge'), 0o755);
    return c;
  }

  const cases: HostileCase[] = [
    // ---- stdin ----
    {
      name: 'empty stdin',
      command: 'ADD',
      stdin: () => '',
      env: ADD_ENV,
      expect: { code: 6, msg: 'error unmarshall network config: stdin is empty', details: 'the runtime passes the network configuration (a JSON object) on stdin' },
    },
    { name: 'whitespace only', command: 'ADD', stdin: () => ' \n\t\r\n', env: ADD_ENV, expect: { code: 6, msg: 'error unmarshall network config: stdin is empty' } },
    { name: 'garbage stdin', command: 'ADD', stdin: () => 'garbage{{{"name":', env: ADD_ENV, expect: { code: 6, msg: 'error unmarshall network config: stdin is not valid JSON' } },
    {
      name: 'binary stdin (NUL, invalid UTF-8)',
      command: 'ADD',
      stdin: () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x80, 0xc3, 0x28, 0x0a]),
      env: ADD_ENV,
      expect: { code: 6, msg: 'error unmarshall network config: stdin is not valid JSON' },
    },
    {
      name: 'a JSON value that is not an object',
      command: 'ADD',
      stdin: () => '[{"name":"cbr0"}]',
      env: ADD_ENV,
      expect: { code: 6, msg: 'error unmarshall network config: the network configuration must be a JSON object', details: '' },
    },
    {
      name: 'nesting 400,000 levels deep',
      command: 'ADD',
      stdin: () => `{"name":"cbr0","delegate":${'['.repeat(400_000)}${']'.repeat(400_000)}}`,
      env: ADD_ENV,
      expect: { code: 6, msg: 'error unmarshall network config: nested more than 128 levels deep', details: 'a flannel network configuration nests a few levels (delegate, ipam, runtimeConfig)' },
    },
    { name: 'stdin of 1 MiB + 1 byte', command: 'ADD', stdin: (c) => paddedConf(c, 1024 * 1024 + 1), env: ADD_ENV, expect: { ...STDIN_TOO_LARGE, cniVersion: '1.1.0' } },
    { name: 'stdin of exactly 1 MiB is accepted (CHECK)', command: 'CHECK', stdin: (c) => paddedConf(c, 1024 * 1024), env: ADD_ENV, expect: { success: true, stdout: '' } },
    { name: 'endless stdin (a writer that never closes)', command: 'ADD', stdin: () => ({ endless: '{"cniVersion":"1.0.0","name":"cbr0","x":"' }), env: ADD_ENV, expect: STDIN_TOO_LARGE, reportRss: true },
    { name: '/dev/zero as stdin', command: 'ADD', stdin: () => ({ file: '/dev/zero' }), env: ADD_ENV, expect: STDIN_TOO_LARGE, reportRss: true },
    { name: 'endless stdin for DEL', command: 'DEL', stdin: () => ({ endless: 'x' }), env: ADD_ENV, expect: STDIN_TOO_LARGE },

    // ---- subnet.env ----
    { name: '/dev/zero as subnetFile', command: 'ADD', stdin: (c) => conf(c, { subnetFile: '/dev/zero' }), env: ADD_ENV, expect: subnetTooLarge('/dev/zero'), reportRss: true },
    {
      name: 'a subnet.env of 1 MiB',
      command: 'ADD',
      setup: (c) => writeFileSync(c.subnetFile, `${SUBNET_ENV}${'#'.repeat(1024 * 1024)}\n`),
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { code: 999, msg: '' }, // filled in below (needs the path)
    },
    {
      name: 'missing subnet.env',
      command: 'ADD',
      setup: (c) => rmSync(c.subnetFile),
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { code: 999, msg: '' },
    },
    {
      name: 'subnetFile is a FIFO nobody writes to',
      command: 'ADD',
      setup: (c) => {
        rmSync(c.subnetFile);
        assert.equal(spawnSync('mkfifo', [c.subnetFile]).status, 0);
      },
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { code: 999, msg: '' },
      leftBehind: (c) => {
        assert.equal(existsSync(c.data), false);
        assert.ok(statSync(c.subnetFile).isFIFO());
      },
    },
    { name: 'subnetFile is a directory', command: 'ADD', stdin: (c) => conf(c, { subnetFile: c.dir }), env: ADD_ENV, expect: { code: 999, msg: '' } },
    {
      name: 'garbage subnet.env',
      command: 'ADD',
      setup: (c) => writeFileSync(c.subnetFile, 'garbage\n'),
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { code: 999, msg: '' },
    },

    // ---- environment ----
    { name: '../ in CNI_CONTAINERID', command: 'ADD', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: '../../etc/cron.d/x' }), expect: { code: 4, msg: 'invalid characters in containerID', details: '../../etc/cron.d/x', cniVersion: '1.1.0' } },
    { name: 'a/../b as CNI_CONTAINERID (DEL)', command: 'DEL', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: 'a/../../b' }), expect: { code: 4, msg: 'invalid characters in containerID', details: 'a/../../b' } },
    {
      name: 'a 300-character CNI_CONTAINERID',
      command: 'ADD',
      stdin: (c) => conf(c),
      env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: 'a'.repeat(300) }),
      expect: {
        code: 4,
        msg: 'containerID is too long: 300 characters, the limit is 255',
        details: `flannel saves each container's delegate configuration as <dataDir>/<containerID>, and a file name has at most 255 bytes; container runtimes use 64-character IDs; this one starts "${'a'.repeat(64)}"`,
      },
    },
    { name: 'a 100 KiB CNI_CONTAINERID', command: 'DEL', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: 'f'.repeat(102_400) }), expect: { code: 4, msg: 'containerID is too long: 102400 characters, the limit is 255' } },
    {
      name: 'a 100 KiB CNI_CONTAINERID with a / in it',
      command: 'ADD',
      stdin: (c) => conf(c),
      env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: `${'f'.repeat(102_399)}/` }),
      expect: { code: 4, msg: 'invalid characters in containerID', details: clipped(`${'f'.repeat(102_399)}/`, 256) },
    },
    {
      name: 'a 16-byte CNI_IFNAME',
      command: 'ADD',
      stdin: (c) => conf(c),
      env: (c) => ({ ...ADD_ENV(c), CNI_IFNAME: 'eth0123456789abc' }),
      expect: { code: 4, msg: 'interface name is too long', details: 'interface name should be less than 16 characters; "eth0123456789abc" has 16 bytes' },
    },
    {
      name: 'a CNI_IFNAME of 8 two-byte characters',
      command: 'ADD',
      stdin: (c) => conf(c),
      env: (c) => ({ ...ADD_ENV(c), CNI_IFNAME: 'é'.repeat(8) }),
      expect: { code: 4, msg: 'interface name is too long', details: `interface name should be less than 16 characters; "${'é'.repeat(8)}" has 16 bytes` },
    },
    { name: 'CNI_IFNAME with a /', command: 'ADD', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_IFNAME: 'eth/0' }), expect: { code: 4, msg: 'interface name contains / or : or whitespace characters', details: 'eth/0' } },
    {
      name: 'unknown CNI_COMMAND',
      command: 'FROB',
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { code: 4, msg: 'unknown CNI_COMMAND: FROB', details: 'supported commands: ADD, DEL, CHECK, VERSION, STATUS, GC' },
    },
    { name: 'ADD without its variables', command: 'ADD', stdin: (c) => conf(c), expect: { code: 4, msg: 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing', details: '' } },
    { name: 'an empty CNI_CONTAINERID', command: 'DEL', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_CONTAINERID: '' }), expect: { code: 4, msg: 'required env variables [CNI_CONTAINERID] missing', details: '' } },
    {
      name: 'a 100 KiB CNI_PATH without the delegate',
      command: 'ADD',
      stdin: (c) => conf(c),
      env: (c) => ({ ...ADD_ENV(c), CNI_PATH: `/nonexistent/${'d'.repeat(102_400)}` }),
      expect: {
        code: 999,
        msg: `failed to find plugin "bridge" in path [${clipped(`/nonexistent/${'d'.repeat(102_400)}`, 1024)}] (CNI_PATH=${clipped(`/nonexistent/${'d'.repeat(102_400)}`, 1024)})`,
        details: /containernetworking-plugins/,
      },
    },

    // ---- versions ----
    ...(['0.1.0', '0.2.0', '2.0.0', '1.0', '1.0.0-rc1', ' 1.0.0'] as const).map(
      (v): HostileCase => ({
        name: `cniVersion "${v}"`,
        command: 'ADD',
        stdin: (c) => conf(c, { cniVersion: v }),
        env: ADD_ENV,
        expect: { code: 1, msg: 'incompatible CNI versions', details: `config is "${v}", plugin supports [${VERSIONS}]`, cniVersion: '1.1.0' },
      }),
    ),
    { name: 'no cniVersion (libcni reads 0.1.0)', command: 'ADD', stdin: (c) => conf(c, { cniVersion: undefined }), env: ADD_ENV, expect: { code: 1, msg: 'incompatible CNI versions', details: `config is "0.1.0", plugin supports [${VERSIONS}]` } },
    { name: 'a numeric cniVersion', command: 'ADD', stdin: (c) => conf(c, { cniVersion: 1 }), env: ADD_ENV, expect: { code: 6, msg: 'error unmarshall network config: cniVersion must be a string', details: '' } },
    {
      name: 'a 100,000-character cniVersion',
      command: 'ADD',
      stdin: (c) => conf(c, { cniVersion: '9'.repeat(100_000) }),
      env: ADD_ENV,
      expect: { code: 1, msg: 'incompatible CNI versions', details: `config is "${clipped('9'.repeat(100_000), 64)}", plugin supports [${VERSIONS}]` },
    },

    // ---- DEL ----
    { name: 'DEL of an unknown container (success, as the spec says)', command: 'DEL', stdin: (c) => conf(c), env: ADD_ENV, expect: { success: true, stdout: '', stderr: '' } },
    { name: 'DEL without CNI_NETNS', command: 'DEL', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_NETNS: undefined }), expect: { success: true, stdout: '', stderr: '' } },
    {
      name: 'DEL when dataDir is a file',
      command: 'DEL',
      stdin: (c) => conf(c, { dataDir: c.subnetFile }),
      env: ADD_ENV,
      expect: { success: true, stdout: '', stderr: '' },
      leftBehind: (c) => assert.equal(readFileSync(c.subnetFile, 'utf8'), SUBNET_ENV),
    },
    {
      name: 'DEL of a FIFO in dataDir',
      command: 'DEL',
      setup: (c) => {
        mkdirSync(c.data);
        assert.equal(spawnSync('mkfifo', [join(c.data, 'hostile1')]).status, 0);
      },
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { success: true, stdout: '', stderr: /^flannel: .*\/data\/hostile1 is not a delegate configuration \(it is not a regular file\); leaving it alone, nothing to undo\n$/ },
      leftBehind: (c) => assert.ok(statSync(join(c.data, 'hostile1')).isFIFO()),
    },
    {
      name: 'DEL of a symlink to /dev/zero in dataDir',
      command: 'DEL',
      setup: (c) => {
        mkdirSync(c.data);
        symlinkSync('/dev/zero', join(c.data, 'hostile1'));
      },
      stdin: (c) => conf(c),
      env: ADD_ENV,
      expect: { success: true, stdout: '', stderr: /^flannel: .*\/data\/hostile1 is not a delegate configuration \(it is not a regular file\); leaving it alone, nothing to undo\n$/ },
      leftBehind: (c) => assert.deepEqual(readdirSync(c.data), ['hostile1']),
    },
    { name: 'DEL with garbage stdin', command: 'DEL', stdin: () => 'not json', env: ADD_ENV, expect: { code: 6, msg: 'error unmarshall network config: stdin is not valid JSON' } },

    // ---- CHECK, STATUS, GC, VERSION ----
    { name: 'CHECK of a 0.3.1 configuration', command: 'CHECK', stdin: (c) => conf(c, { cniVersion: '0.3.1' }), env: ADD_ENV, expect: { code: 1, msg: 'config version does not allow CHECK', details: 'CHECK needs cniVersion 0.4.0 or later, the config has "0.3.1"', cniVersion: '0.3.1' } },
    { name: 'CHECK of a valid configuration', command: 'CHECK', stdin: (c) => conf(c), env: ADD_ENV, expect: { success: true, stdout: '', stderr: '' } },
    { name: 'CHECK without CNI_NETNS', command: 'CHECK', stdin: (c) => conf(c), env: (c) => ({ ...ADD_ENV(c), CNI_NETNS: undefined }), expect: { code: 4, msg: 'required env variables [CNI_NETNS] missing', details: '' } },
    { name: 'STATUS of a 1.0.0 configuration', command: 'STATUS', stdin: (c) => conf(c), expect: { code: 1, msg: 'config version does not allow STATUS', details: 'STATUS needs cniVersion 1.1.0 or later, the config has "1.0.0"' } },
    {
      name: 'STATUS with /dev/zero as subnetFile',
      command: 'STATUS',
      stdin: (c) => conf(c, { cniVersion: '1.1.0', subnetFile: '/dev/zero' }),
      expect: { code: 50, msg: 'plugin not available', details: subnetTooLarge('/dev/zero').msg },
      reportRss: true,
    },
    {
      name: 'STATUS with a missing subnet.env',
      command: 'STATUS',
      setup: (c) => rmSync(c.subnetFile),
      stdin: (c) => conf(c, { cniVersion: '1.1.0' }),
      expect: { code: 50, msg: 'plugin not available', details: /^failed to load flannel subnet file .*: no such file\. Check that flanneld is running on this node/ },
    },
    { name: 'STATUS ready', command: 'STATUS', stdin: (c) => conf(c, { cniVersion: '1.1.0' }), env: (c) => ({ CNI_PATH: c.bin }), expect: { success: true, stdout: '', stderr: '' }, delegateCalls: ['VERSION'] },
    { name: 'GC of a 1.0.0 configuration', command: 'GC', stdin: (c) => conf(c, { 'cni.dev/valid-attachments': [] }), env: ADD_ENV, expect: { code: 1, msg: 'config version does not allow GC' } },
    {
      name: 'GC without the attachment list',
      command: 'GC',
      stdin: (c) => conf(c, { cniVersion: '1.1.0' }),
      env: ADD_ENV,
      expect: { code: 7, msg: 'GC needs cni.dev/valid-attachments', details: 'without the list of valid attachments nothing can be told stale; nothing was removed' },
    },
    {
      name: 'GC with an attachment list that is not a list',
      command: 'GC',
      stdin: (c) => conf(c, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': { containerID: 'x' } }),
      env: ADD_ENV,
      expect: { code: 7, msg: 'invalid network config "cbr0": cni.dev/valid-attachments must be a list', details: 'cni.dev/valid-attachments must be a list' },
    },
    {
      name: 'GC over a dataDir holding a FIFO, a device link, a directory and a stale file',
      command: 'GC',
      setup: (c) => {
        mkdirSync(c.data);
        assert.equal(spawnSync('mkfifo', [join(c.data, 'fifo1')]).status, 0);
        symlinkSync('/dev/zero', join(c.data, 'zero1'));
        mkdirSync(join(c.data, 'dir1'));
        writeFileSync(join(c.data, 'stale1'), JSON.stringify({ name: 'cbr0', type: 'bridge' }));
        writeFileSync(join(c.data, 'keep1'), JSON.stringify({ name: 'cbr0', type: 'bridge' }));
      },
      stdin: (c) => conf(c, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep1', ifname: 'eth0' }] }),
      env: ADD_ENV,
      expect: { success: true, stdout: '', stderr: '' },
      delegateCalls: ['VERSION'],
      leftBehind: (c) => assert.deepEqual(readdirSync(c.data).sort(), ['dir1', 'fifo1', 'keep1', 'zero1']),
    },
    {
      name: 'VERSION with an endless stdin (never read)',
      command: 'VERSION',
      stdin: () => ({ endless: 'garbage' }),
      expect: { success: true, stdout: '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n', stderr: '' },
    },
    {
      name: 'no CNI_COMMAND (a person ran it)',
      command: undefined,
      stdin: () => ({ endless: 'x' }),
      expect: { success: true, stdout: '', stderr: /^CNI Plugin flannel \(flannel-ts\) version \d+\.\d+\.\d+\nCNI protocol versions supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0\n$/ },
    },
  ];

  // Expectations that need the case's own paths.
  const pathExpect: Record<string, (c: CaseDir) => ErrorExpect> = {
    'a subnet.env of 1 MiB': (c) => subnetTooLarge(c.subnetFile),
    'missing subnet.env': (c) => ({
      code: 999,
      msg: `failed to load flannel subnet file ${c.subnetFile}: no such file. Check that flanneld is running on this node (see the flannel pod log for this node)`,
      details: `flanneld writes ${c.subnetFile} once it holds this node's subnet lease; pods cannot get an address on this node until it does`,
    }),
    'subnetFile is a FIFO nobody writes to': (c) => ({ code: 999, msg: `failed to load flannel subnet file ${c.subnetFile}: it is a FIFO or socket, not a regular file. ${SUBNET_KEY_HINT}`, details: SUBNET_KEY_DETAILS }),
    'subnetFile is a directory': (c) => ({ code: 999, msg: `failed to load flannel subnet file ${c.dir}: it is a directory. ${SUBNET_KEY_HINT}`, details: SUBNET_KEY_DETAILS }),
    'garbage subnet.env': (c) => ({ code: 999, msg: `invalid flannel subnet file: ${c.subnetFile}:1: "garbage" is not a NAME=value line`, details: 'the file is written by flanneld; check the flannel pod log for this node' }),
  };

  for (const bin of BINARIES) {
    describe(bin.name, () => {
      for (const k of cases) {
        it(k.name, async () => {
          const c = newCase();
          k.setup?.(c);
          const o = await runPlugin(bin, k.command, k.stdin(c), k.env?.(c) ?? {}, join(c.dir, 'rss'));
          const what = `${bin.name}: ${k.name}`;
          assertNoCrash(o, what);
          if ('success' in k.expect) {
            assert.equal(o.status, 0, `${what}: expected success, got ${o.status}: ${o.stdout}${o.stderr}`);
            if (k.expect.stdout !== undefined) assert.equal(o.stdout, k.expect.stdout, what);
            if (typeof k.expect.stderr === 'string') assert.equal(o.stderr, k.expect.stderr, what);
            else if (k.expect.stderr) assert.match(o.stderr, k.expect.stderr, what);
          } else {
            const want = pathExpect[k.name]?.(c) ?? k.expect;
            assert.equal(o.status, 1, `${what}: a CNI error exits 1, got ${o.status} (${o.stdout})`);
            assert.equal(o.stderr, '', `${what}: nothing on stderr`);
            assert.ok(o.stdout.endsWith('\n') && o.stdout.indexOf('\n') === o.stdout.length - 1, `${what}: one line on stdout: ${o.stdout.slice(0, 500)}`);
            const e = JSON.parse(o.stdout) as Record<string, unknown>;
            assert.deepEqual(Object.keys(e), ['cniVersion', 'code', 'msg', 'details'], what);
            assert.equal(e.code, want.code, `${what}: code (${String(e.msg)})`);
            assert.equal(e.msg, want.msg, what);
            if (want.cniVersion !== undefined) assert.equal(e.cniVersion, want.cniVersion, what);
            if (typeof want.details === 'string') assert.equal(e.details, want.details, what);
            else if (want.details) assert.match(String(e.details), want.details, what);
            else assert.ok(typeof e.details === 'string' && e.details.length > 0, `${what}: details say more`);
          }
          assert.deepEqual(readdirSync(c.calls).sort(), [...(k.delegateCalls ?? [])].sort(), `${what}: delegate calls`);
          if (k.leftBehind) k.leftBehind(c);
          else assert.equal(existsSync(c.data), false, `${what}: nothing written to dataDir`);
          if (o.rssKiB !== undefined) assert.ok(o.rssKiB < RSS_LIMIT_KIB, `${what}: peak RSS ${(o.rssKiB / 1024).toFixed(1)} MiB (limit ${RSS_LIMIT_KIB / 1024} MiB)`);
          else assert.ok(!hasTime, `${what}: /usr/bin/time reported no peak RSS`);
          if (k.reportRss) rssReport.push(`${what}: ${o.rssKiB === undefined ? 'not sampled (ended within 10 ms)' : `${(o.rssKiB / 1024).toFixed(1)} MiB`} in ${o.ms.toFixed(0)} ms`);
          rmSync(c.dir, { recursive: true, force: true });
        });
      }
    });
  }
});

function listTs(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).flatMap((n) => listTs(join(path, n)));
}
