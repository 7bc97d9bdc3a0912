/** The dispatcher end to end, with shell-script plugins standing in for bridge. */
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCni, type PluginOutcome } from './plugin.ts';
import { tooLarge } from './sys/sys.ts';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const ADD_RESULT = '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.244.1.2/24","gateway":"10.244.1.1","interface":0}]}\n';

/** A plugin that records stdin and CNI_* per command and answers like bridge would. */
function fakePlugin(dir: string, name: string, opts: { versions?: string[]; fail?: string; failExit?: number } = {}): void {
  const versions = JSON.stringify({ cniVersion: '1.1.0', supportedVersions: opts.versions ?? ['0.3.1', '1.0.0'] });
  const failing = opts.fail !== undefined ? `if [ "$CNI_COMMAND" != VERSION ]; then printf '%s' '${opts.fail}'; exit ${opts.failExit ?? 1}; fi\n` : '';
  writeFileSync(
    join(dir, name),
    `#!/bin/sh\nd=$(dirname "$0")\ncat > "$d/${name}.$CNI_COMMAND.stdin"\nenv | grep '^CNI_' | sort > "$d/${name}.$CNI_COMMAND.env"\n${failing}` +
      `case "$CNI_COMMAND" in VERSION) echo '${versions}';; ADD) printf '%s' '${ADD_RESULT.trim()}'; echo;; esac\nexit 0\n`,
  );
  chmodSync(join(dir, name), 0o755);
}

let root: string;
let bin: string;
let data: string;
let subnetFile: string;

function conf(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile, dataDir: data, ...extra });
}

function run(command: string, stdin: string, env: Record<string, string | undefined> = {}): Promise<PluginOutcome> {
  return runCni({
    env: { CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p1', CNI_IFNAME: 'eth0', CNI_PATH: `/nonexistent:${bin}`, CNI_ARGS: 'K8S_POD_NAME=p1', ...env },
    readStdin: () => stdin,
    programVersion: () => '9.9.9',
  });
}

function error(o: PluginOutcome): { cniVersion: string; code: number; msg: string; details: string } {
  assert.equal(o.exitCode, 1, `expected failure, got stdout ${o.stdout}`);
  return JSON.parse(o.stdout) as { cniVersion: string; code: number; msg: string; details: string };
}

describe('flannel CNI plugin', () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'flt-cni-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    rmSync(join(root, 'case'), { recursive: true, force: true });
    bin = join(root, 'case', 'bin');
    data = join(root, 'case', 'data');
    subnetFile = join(root, 'case', 'subnet.env');
    mkdirSync(bin, { recursive: true });
    writeFileSync(subnetFile, SUBNET_ENV);
    fakePlugin(bin, 'bridge');
  });

  it('VERSION prints the versions spoken, without reading stdin', async () => {
    const o = (await runCni({ env: { CNI_COMMAND: 'VERSION' }, readStdin: () => assert.fail('stdin read'), programVersion: () => 'x' }));
    assert.deepEqual(o, { stdout: '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n', stderr: '', exitCode: 0 });
  });

  it('without CNI_COMMAND prints what it is on stderr and exits 0 (as libcni plugins do)', async () => {
    const o = (await runCni({ env: {}, readStdin: () => '', programVersion: () => '9.9.9' }));
    assert.equal(o.exitCode, 0);
    assert.equal(o.stdout, '');
    assert.equal(o.stderr, 'CNI Plugin flannel (flannel-ts) version 9.9.9\nCNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n');
  });

  it('ADD saves the delegate (sorted keys, 0600 in 0700), runs it with the same env and prints its result unchanged', async () => {
    const o = (await run('ADD', conf({ delegate: { hairpinMode: true, isDefaultGateway: true }, runtimeConfig: { portMappings: [] } })));
    assert.equal(o.exitCode, 0, o.stdout);
    assert.equal(o.stdout, ADD_RESULT);
    const saved = readFileSync(join(data, 'c1'), 'utf8');
    assert.equal(
      saved,
      '{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},' +
        '"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","runtimeConfig":{"portMappings":[]},"type":"bridge"}',
    );
    assert.equal(statSync(join(data, 'c1')).mode & 0o777, 0o600);
    assert.equal(statSync(data).mode & 0o777, 0o700);
    assert.equal(readFileSync(join(bin, 'bridge.ADD.stdin'), 'utf8'), saved);
    assert.equal(
      readFileSync(join(bin, 'bridge.ADD.env'), 'utf8'),
      `CNI_ARGS=K8S_POD_NAME=p1\nCNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\nCNI_NETNS=/var/run/netns/p1\nCNI_PATH=/nonexistent:${bin}\n`,
    );
    assert.deepEqual(readdirSync(data), ['c1']);
  });

  it("ADD passes the delegate's error through and keeps the saved file for DEL", async () => {
    fakePlugin(bin, 'bridge', { fail: '{"code":11,"msg":"failed to allocate for range 0","details":"busy"}' });
    const e = error((await run('ADD', conf())));
    assert.deepEqual(e, { cniVersion: '1.0.0', code: 11, msg: 'failed to allocate for range 0', details: 'busy' });
    assert.ok(existsSync(join(data, 'c1')));
  });

  it('a delegate that fails without a CNI error is code 999 with its output', async () => {
    fakePlugin(bin, 'bridge', { fail: 'panic: oops', failExit: 2 });
    const e = error((await run('ADD', conf())));
    assert.equal(e.code, 999);
    assert.equal(e.msg, `plugin ${join(bin, 'bridge')} (ADD) exited with status 2 without a CNI error result`);
    assert.equal(e.details, 'panic: oops');
  });

  it('a missing subnet.env is code 999 naming the file and pointing at flanneld on this node', async () => {
    rmSync(subnetFile);
    const e = error((await run('ADD', conf())));
    assert.equal(e.code, 999);
    assert.equal(e.msg, `failed to load flannel subnet file ${subnetFile}: no such file. Check that flanneld is running on this node (see the flannel pod log for this node)`);
    assert.match(e.details, /flanneld writes .* once it holds this node's subnet lease/);
    assert.equal(existsSync(data), false);
  });

  it('a broken subnet.env is code 999 naming the problem', async () => {
    writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n');
    assert.equal(error((await run('ADD', conf()))).msg, `invalid flannel subnet file: ${subnetFile}: FLANNEL_MTU is missing`);
  });

  it('a missing delegate plugin is code 999 naming it and CNI_PATH, and nothing is saved', async () => {
    const e = error((await run('ADD', conf({ delegate: { type: 'macvlan' } }))));
    assert.equal(e.code, 999);
    assert.equal(e.msg, `failed to find plugin "macvlan" in path [/nonexistent ${bin}] (CNI_PATH=/nonexistent:${bin})`);
    assert.match(e.details, /containernetworking-plugins/);
    assert.match(e.details, /flannel-io\/flannel#1847/);
    assert.equal(existsSync(data), false);
  });

  it('an unsafe container ID is refused (code 4) before anything is written', async () => {
    for (const id of ['../../etc/cron.d/x', '/abs', '..', 'a/../b', 'a/b']) {
      const e = error((await run('ADD', conf(), { CNI_CONTAINERID: id })));
      assert.deepEqual([e.code, e.msg, e.details], [4, 'invalid characters in containerID', id]);
    }
    assert.equal(existsSync(data), false);
    assert.equal(existsSync(join(bin, 'bridge.ADD.stdin')), false);
  });

  it('a 300-character container ID is too long (code 4, the limit named), for ADD, CHECK and DEL alike', async () => {
    for (const cmd of ['ADD', 'CHECK', 'DEL']) {
      const e = error(await run(cmd, conf(), { CNI_CONTAINERID: 'a'.repeat(300) }));
      assert.deepEqual([e.code, e.msg], [4, 'containerID is too long: 300 characters, the limit is 255'], cmd);
    }
    assert.equal(existsSync(data), false);
    // 255 is a file name Linux takes.
    assert.equal((await run('ADD', conf(), { CNI_CONTAINERID: 'b'.repeat(255) })).exitCode, 0);
    assert.deepEqual(readdirSync(data), ['b'.repeat(255)]);
  });

  it('a stdin larger than 1 MiB is code 5 saying so, with the limit and what to check', async () => {
    const o = await runCni({
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: bin },
      readStdin: (limit) => {
        assert.equal(limit, 1024 * 1024);
        throw tooLarge('stdin', limit);
      },
      programVersion: () => 'x',
    });
    assert.deepEqual(error(o), {
      cniVersion: '1.1.0',
      code: 5,
      msg: "error reading from stdin: the network configuration is larger than 1 MiB (1048576 bytes), the plugin's limit",
      details:
        'a flannel network configuration is a few hundred bytes, a few KiB with what the runtime adds (prevResult, runtimeConfig, the attachment list of GC); ' +
        'check what the runtime passes on stdin: the flannel entry of the conflist in /etc/cni/net.d',
    });
  });

  it('a subnetFile of /dev/zero is refused after 64 KiB (code 999 naming it, the limit and the key to check)', async () => {
    const e = error(await run('ADD', conf({ subnetFile: '/dev/zero' })));
    assert.deepEqual(e, {
      cniVersion: '1.0.0',
      code: 999,
      msg: 'flannel subnet file /dev/zero is larger than 64 KiB (65536 bytes), the limit for a subnet.env. Check "subnetFile" in the network configuration (default /run/flannel/subnet.env)',
      details: 'flanneld writes a subnet.env of a few hundred bytes (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ); /dev/zero is something else',
    });
    assert.equal(existsSync(data), false);
    assert.equal(existsSync(join(bin, 'bridge.ADD.stdin')), false);
  });

  it('a subnet.env of exactly 64 KiB is read; one byte more is too large', async () => {
    const pad = (n: number): string => `${SUBNET_ENV}#${'x'.repeat(n - SUBNET_ENV.length - 2)}\n`;
    writeFileSync(subnetFile, pad(65536));
    assert.equal(statSync(subnetFile).size, 65536);
    assert.equal((await run('ADD', conf())).exitCode, 0);
    writeFileSync(subnetFile, pad(65537));
    assert.match(error(await run('ADD', conf(), { CNI_CONTAINERID: 'c2' })).msg, /^flannel subnet file .* is larger than 64 KiB \(65536 bytes\)/);
  });

  it('a subnetFile that is a FIFO nobody writes to is refused at once, a directory named as such', async () => {
    const fifo = join(root, 'case', 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const hint = 'Check "subnetFile" in the network configuration (default /run/flannel/subnet.env)';
    const e = error(await run('ADD', conf({ subnetFile: fifo })));
    assert.deepEqual([e.code, e.msg], [999, `failed to load flannel subnet file ${fifo}: it is a FIFO or socket, not a regular file. ${hint}`]);
    assert.equal(e.details, '"subnetFile" must name the subnet.env flanneld writes (its --subnet-file, default /run/flannel/subnet.env)');
    assert.equal(error(await run('ADD', conf({ subnetFile: root }))).msg, `failed to load flannel subnet file ${root}: it is a directory. ${hint}`);
    assert.equal(error(await run('ADD', conf({ subnetFile: `${subnetFile}/x` }))).msg, `failed to load flannel subnet file ${subnetFile}/x: a component of the path is not a directory. ${hint}`);
    assert.equal(existsSync(data), false);
  });

  it('errors carry the configuration version, or 1.1.0 when it has none we speak', async () => {
    assert.equal(error((await run('ADD', conf({ cniVersion: '0.3.1', delegate: 'x' })))).cniVersion, '0.3.1');
    assert.equal(error((await run('ADD', '{'))).cniVersion, '1.1.0');
    assert.deepEqual(error((await run('ADD', '{'))).code, 6);
  });

  it('empty and garbage stdin are code 6 with the same message under every JavaScript engine', async () => {
    for (const stdin of ['', ' \n\t']) {
      assert.deepEqual(error(await run('ADD', stdin)), { cniVersion: '1.1.0', code: 6, msg: 'error unmarshall network config: stdin is empty', details: 'the runtime passes the network configuration (a JSON object) on stdin' });
    }
    for (const stdin of ['garbage', '{"name":', '\ufeff{}', '{"a":1}}']) {
      const e = error(await run('ADD', stdin));
      assert.deepEqual([e.code, e.msg], [6, 'error unmarshall network config: stdin is not valid JSON'], stdin);
      assert.ok(e.details.length > 0, 'the parser says where');
    }
    assert.deepEqual(error(await run('ADD', `${'['.repeat(200)}${']'.repeat(200)}`)), {
      cniVersion: '1.1.0',
      code: 6,
      msg: 'error unmarshall network config: nested more than 128 levels deep',
      details: 'a flannel network configuration nests a few levels (delegate, ipam, runtimeConfig)',
    });
  });

  it('a stdin read failure is code 5', async () => {
    const o = (await runCni({ env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_PATH: bin }, readStdin: () => { throw new Error('EIO'); }, programVersion: () => 'x' }));
    assert.deepEqual(error(o), { cniVersion: '1.1.0', code: 5, msg: 'error reading from stdin: EIO', details: '' });
  });

  it('DEL replays the saved delegate, then removes it; DEL again succeeds', async () => {
    assert.equal((await run('ADD', conf())).exitCode, 0);
    const saved = readFileSync(join(data, 'c1'), 'utf8');
    // DEL gets the runtime's config (with prevResult); the delegate still gets what ADD saved.
    const del = (await run('DEL', conf({ prevResult: JSON.parse(ADD_RESULT) as unknown }), { CNI_NETNS: undefined }));
    assert.deepEqual(del, { stdout: '', stderr: '', exitCode: 0 });
    assert.equal(readFileSync(join(bin, 'bridge.DEL.stdin'), 'utf8'), saved);
    assert.match(readFileSync(join(bin, 'bridge.DEL.env'), 'utf8'), /^CNI_COMMAND=DEL$/m);
    assert.deepEqual(readdirSync(data), []);
    rmSync(join(bin, 'bridge.DEL.stdin'));
    assert.equal((await run('DEL', conf())).exitCode, 0);
    assert.equal(existsSync(join(bin, 'bridge.DEL.stdin')), false);
  });

  it('DEL keeps the saved file when the delegate fails, so the runtime can retry', async () => {
    assert.equal((await run('ADD', conf())).exitCode, 0);
    fakePlugin(bin, 'bridge', { fail: '{"code":999,"msg":"netlink busy"}' });
    assert.equal(error((await run('DEL', conf()))).msg, 'netlink busy');
    assert.ok(existsSync(join(data, 'c1')));
  });

  it('DEL of something ADD cannot have written (directory, FIFO, /dev/zero) succeeds and leaves it alone', async () => {
    mkdirSync(join(data, 'c1'), { recursive: true });
    assert.equal(spawnSync('mkfifo', [join(data, 'c2')]).status, 0);
    symlinkSync('/dev/zero', join(data, 'c3'));
    writeFileSync(join(data, 'c4'), Buffer.alloc(8 * 1024 * 1024 + 1, 0x20));
    const cases: Array<[string, string, string]> = [
      ['c1', data, 'it is a directory'],
      ['c2', data, 'it is not a regular file'],
      ['c3', data, 'it is not a regular file'],
      ['c4', data, 'it holds more than 8 MiB (8388608 bytes)'],
    ];
    for (const [id, dir, why] of cases) {
      const o = await run('DEL', conf({ dataDir: dir }), { CNI_CONTAINERID: id });
      assert.deepEqual(o, { stdout: '', stderr: `flannel: ${dir}/${id} is not a delegate configuration (${why}); leaving it alone, nothing to undo\n`, exitCode: 0 });
    }
    assert.ok(statSync(join(data, 'c1')).isDirectory());
    assert.ok(statSync(join(data, 'c2')).isFIFO());
    assert.deepEqual(readdirSync(data).sort(), ['c1', 'c2', 'c3', 'c4']);
    assert.equal(existsSync(join(bin, 'bridge.DEL.stdin')), false);
  });

  it('DEL when dataDir is a file succeeds: there is nothing saved', async () => {
    assert.deepEqual(await run('DEL', conf({ dataDir: subnetFile })), { stdout: '', stderr: '', exitCode: 0 });
    assert.equal(readFileSync(subnetFile, 'utf8'), SUBNET_ENV);
  });

  it('ADD keeps a "__proto__" key of the delegate in the saved file, as upstream would', async () => {
    assert.equal((await run('ADD', '{"cniVersion":"1.0.0","name":"cbr0","subnetFile":' + JSON.stringify(subnetFile) + ',"dataDir":' + JSON.stringify(data) + ',"delegate":{"__proto__":{"x":1}}}')).exitCode, 0);
    assert.match(readFileSync(join(data, 'c1'), 'utf8'), /"__proto__":\{"x":1\}/);
  });

  it('DEL of an unreadable saved file removes it without running a delegate', async () => {
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'c1'), 'garbage');
    const o = (await run('DEL', conf()));
    assert.equal(o.exitCode, 0);
    assert.match(o.stderr, /is not a delegate configuration; removing it/);
    assert.equal(existsSync(join(data, 'c1')), false);
  });

  it('CHECK succeeds on 0.4.0+ and is code 1 before', async () => {
    assert.deepEqual((await run('CHECK', conf({ cniVersion: '0.4.0' }))), { stdout: '', stderr: '', exitCode: 0 });
    assert.deepEqual(error((await run('CHECK', conf({ cniVersion: '0.3.1' })))), { cniVersion: '0.3.1', code: 1, msg: 'config version does not allow CHECK', details: 'CHECK needs cniVersion 0.4.0 or later, the config has "0.3.1"' });
    assert.equal(error((await run('CHECK', conf(), { CNI_NETNS: '' }))).code, 4);
  });

  it('STATUS succeeds when subnet.env is readable and the delegate is installed', async () => {
    assert.equal((await run('STATUS', conf({ cniVersion: '1.1.0' }), { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined })).exitCode, 0);
    assert.equal(existsSync(join(bin, 'bridge.STATUS.stdin')), false, 'a 1.0.0 delegate is not asked for STATUS');
  });

  it('STATUS asks a delegate that speaks 1.1.0 and passes its answer on', async () => {
    fakePlugin(bin, 'bridge', { versions: ['1.0.0', '1.1.0'] });
    assert.equal((await run('STATUS', conf({ cniVersion: '1.1.0' }))).exitCode, 0);
    assert.match(readFileSync(join(bin, 'bridge.STATUS.stdin'), 'utf8'), /"ranges":\[\[\{"subnet":"10\.244\.1\.0\/24"\}\]\]/);
  });

  it('STATUS is code 50 with the reason when subnet.env is missing or the delegate is not installed', async () => {
    rmSync(subnetFile);
    const e = error((await run('STATUS', conf({ cniVersion: '1.1.0' }))));
    assert.equal(e.code, 50);
    assert.equal(e.msg, 'plugin not available');
    assert.match(e.details, new RegExp(`failed to load flannel subnet file ${subnetFile}: no such file\\. Check that flanneld is running on this node`));
    writeFileSync(subnetFile, SUBNET_ENV);
    const e2 = error((await run('STATUS', conf({ cniVersion: '1.1.0', delegate: { type: 'ipvlan' } }))));
    assert.equal(e2.code, 50);
    assert.match(e2.details, /delegate plugin "ipvlan" is not in CNI_PATH=/);
  });

  it('STATUS and GC never run a delegate type that is a path (code 2)', async () => {
    const extra = { delegate: { type: '../../../../bin/sh' } };
    assert.equal(error((await run('STATUS', conf({ cniVersion: '1.1.0', ...extra })))).code, 2);
    assert.equal(error((await run('GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [], ...extra })))).code, 2);
  });

  it('STATUS and GC need a 1.1.0 configuration (code 1)', async () => {
    assert.equal(error((await run('STATUS', conf()))).msg, 'config version does not allow STATUS');
    assert.equal(error((await run('GC', conf({ 'cni.dev/valid-attachments': [] })))).msg, 'config version does not allow GC');
  });

  it("GC removes this network's saved files of containers not listed, keeps the rest", async () => {
    for (const id of ['keep1', 'stale1', 'stale2']) assert.equal((await run('ADD', conf(), { CNI_CONTAINERID: id })).exitCode, 0);
    writeFileSync(join(data, 'othernet'), JSON.stringify({ name: 'other', type: 'bridge' }));
    writeFileSync(join(data, '.not-an-id'), '{}');
    // Entries GC must neither open nor remove: a directory, a FIFO nobody writes to, a device.
    mkdirSync(join(data, 'subdir'));
    assert.equal(spawnSync('mkfifo', [join(data, 'fifo1')]).status, 0);
    symlinkSync('/dev/zero', join(data, 'zero1'));
    const o = (await run('GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep1', ifname: 'eth0' }] }), { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined }));
    assert.deepEqual(o, { stdout: '', stderr: '', exitCode: 0 });
    assert.deepEqual(readdirSync(data).sort(), ['.not-an-id', 'fifo1', 'keep1', 'othernet', 'subdir', 'zero1'], 'names that are no container ID, or no file, are not ours');
    assert.equal(existsSync(join(bin, 'bridge.GC.stdin')), false, 'a 1.0.0 delegate gets no GC');
  });

  it('GC runs the delegate GC with the valid attachments when the delegate speaks 1.1.0', async () => {
    fakePlugin(bin, 'bridge', { versions: ['1.1.0'] });
    const attachments = [{ containerID: 'keep1', ifname: 'eth0' }];
    assert.equal((await run('GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': attachments }))).exitCode, 0);
    const sent = JSON.parse(readFileSync(join(bin, 'bridge.GC.stdin'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(sent['cni.dev/valid-attachments'], attachments);
    assert.equal(sent.type, 'bridge');
    assert.equal(sent.name, 'cbr0');
  });

  it('GC without the attachment list removes nothing (code 7)', async () => {
    assert.equal((await run('ADD', conf())).exitCode, 0);
    assert.equal(error((await run('GC', conf({ cniVersion: '1.1.0' })))).code, 7);
    assert.deepEqual(readdirSync(data), ['c1']);
  });
});
