import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Network } from '../backend.ts';
import { harness, networkConfig, peer, type Harness } from '../testing/fixtures.ts';
import { extension, type ExtensionInit } from './index.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flt-ext-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** A fresh file in the test's temp dir, for a command to write to. */
const file = (name: string): string => join(dir, `${++seq}-${name}`);
const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []);

async function until<T>(what: string, check: () => T | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Started {
  h: Harness;
  net: Network;
  stop(): Promise<void>;
}

async function start(backend: Record<string, unknown>, o: { peers?: Parameters<typeof harness>[0]['peers']; init?: ExtensionInit; extra?: Record<string, unknown> } = {}): Promise<Started> {
  const config = networkConfig({ Type: 'extension', ...backend }, o.extra);
  const h = harness({ subnet: '10.244.1.0/24', config, peers: o.peers ?? [] });
  const net = await extension({ retry: { initialMs: 20, maxMs: 100 }, ...o.init }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(20_000));
  const ac = new AbortController();
  const done = net.run(ac.signal);
  return {
    h,
    net,
    async stop() {
      ac.abort();
      await done;
    },
  };
}

const extPeer = (n: number, data?: string) =>
  peer({ subnet: `10.244.${n}.0/24`, publicIP: `192.0.2.${10 + n}`, backendType: 'extension', ...(data !== undefined ? { backendData: data } : {}) });

describe('extension start-up', () => {
  it('makes PreStartupCommand\'s output (trimmed) the lease\'s BackendData string; pod MTU is the interface MTU', async () => {
    const { h, net, stop } = await start({ PreStartupCommand: 'echo "  key-$((40 + 2))  "; echo to-stderr >&2' });
    const attrs = h.subnets.acquired[0]?.attrs;
    assert.deepEqual([attrs?.backendType, attrs?.backendData, attrs?.publicIP?.toString()], ['extension', 'key-42', '192.0.2.1']);
    assert.equal(net.mtu, 1500);
    const ran = h.log.lines.find((l) => l.msg.startsWith('ran PreStartupCommand'));
    assert.deepEqual(ran?.fields, { command: `sh -c echo "  key-$((40 + 2))  "; echo to-stderr >&2`, stdout: 'key-42', stderr: 'to-stderr' });
    await stop();
  });

  it('leases without BackendData when there is no PreStartupCommand', async () => {
    const { h, stop } = await start({ SubnetAddCommand: 'true' });
    assert.equal(h.subnets.acquired[0]?.attrs.backendData, undefined);
    assert.equal(h.logged('info', 'no PreStartupCommand configured: the lease carries no BackendData').length, 1);
    await stop();
  });

  it('gives PostStartupCommand NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP and PUBLIC_IPV6 once the lease is held', async () => {
    const out = file('post');
    const { stop } = await start({ PostStartupCommand: `echo "N=$NETWORK S=$SUBNET S6=$IPV6SUBNET P=$PUBLIC_IP P6=$PUBLIC_IPV6 N6=$IPV6NETWORK" > ${out}` });
    assert.deepEqual(lines(out), ['N=10.0.0.0/8 S=10.244.1.0/24 S6= P=192.0.2.1 P6= N6=']);
    await stop();
  });

  it('a failing PreStartupCommand stops start-up before the lease, naming its exit code and stderr', async () => {
    const config = networkConfig({ Type: 'extension', PreStartupCommand: 'echo partial; echo "no key here" >&2; exit 3' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    await assert.rejects(extension().create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(20_000)), {
      name: 'BackendError',
      code: 'E_EXTENSION_COMMAND',
      permanent: true,
      message: 'PreStartupCommand failed with exit code 3: no key here (the command: sh -c "echo partial; echo \\"no key here\\" >&2; exit 3")',
      hint: 'fix Backend.PreStartupCommand in the network configuration (run it by hand with sh -c to see why it fails) and restart flanneld; start-up stopped and nothing was written',
    });
    assert.equal(h.subnets.acquired.length, 0);
  });

  it('a failing PostStartupCommand stops start-up after the lease (which the daemon\'s undo log releases)', async () => {
    const config = networkConfig({ Type: 'extension', PostStartupCommand: 'echo "SUBNET was $SUBNET"; exit 1' });
    const h = harness({ subnet: '10.244.1.0/24', config });
    await assert.rejects(extension().create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(20_000)), {
      code: 'E_EXTENSION_COMMAND',
      permanent: true,
      message: 'PostStartupCommand failed with exit code 1: SUBNET was 10.244.1.0/24 (on stdout; nothing on stderr) (the command: sh -c "echo \\"SUBNET was $SUBNET\\"; exit 1")',
      hint: 'fix Backend.PostStartupCommand in the network configuration (run it by hand with sh -c to see why it fails) and restart flanneld; start-up stopped and a lease this start-up acquired is released',
    });
    assert.equal(h.subnets.acquired.length, 1);
  });

  it('kills a start-up command that runs past the timeout, with everything it started', async () => {
    const pidFile = file('pid');
    const config = networkConfig({ Type: 'extension', PreStartupCommand: `sleep 60 & echo $! > ${pidFile}; wait` });
    const h = harness({ subnet: '10.244.1.0/24', config });
    const t0 = Date.now();
    await assert.rejects(extension({ commandTimeoutMs: 300 }).create(h.deps).registerNetwork(config, {}, AbortSignal.timeout(20_000)), {
      code: 'E_EXTENSION_COMMAND',
      permanent: true,
      message: `PreStartupCommand did not finish within 300 ms and was killed (with everything it started) (the command: sh -c "sleep 60 & echo $! > ${pidFile}; wait")`,
    });
    assert.ok(Date.now() - t0 < 15_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(`sleep ${pid} to be gone`, () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'));
  });

  it('checks its keys: each a string; others are warned about, and a missing SubnetAddCommand too', () => {
    const f = extension();
    assert.deepEqual(f.checkConfig(networkConfig({ Type: 'extension', SubnetAddCommand: 'true', PreStartupCommand: '', VNI: 1 })).warnings, [
      'Backend.VNI is not an extension setting and is ignored (extension settings: PreStartupCommand, PostStartupCommand, SubnetAddCommand, SubnetRemoveCommand)',
    ]);
    assert.deepEqual(f.checkConfig(networkConfig({ Type: 'extension', PostStartupCommand: 'true' })).warnings, [
      'Backend.SubnetAddCommand is not set: nothing will make peers reachable (the extension backend programs only what its commands do)',
    ]);
    assert.throws(() => f.checkConfig(networkConfig({ Type: 'extension', SubnetAddCommand: ['ip', 'route'] })), {
      name: 'ConfigError',
      message: 'Backend.SubnetAddCommand must be a string: a shell command line, run with sh -c, got the array ["ip","route"]',
    });
  });
});

describe('extension peers', () => {
  const logCommands = (log: string) => ({
    SubnetAddCommand: `echo "add $SUBNET $PUBLIC_IP [$(cat)]" >> ${log}`,
    SubnetRemoveCommand: `echo "del $SUBNET $PUBLIC_IP [$(cat)]" >> ${log}`,
  });

  it('runs SubnetAddCommand per peer with SUBNET and PUBLIC_IP in the environment and its BackendData on stdin, and SubnetRemoveCommand when it goes', async () => {
    const log = file('peers');
    const { h, stop } = await start(logCommands(log), { peers: [extPeer(2, 'pubkey-2'), extPeer(3)] });
    await until('both adds', () => lines(log).length === 2 || false);
    assert.deepEqual(lines(log).sort(), ['add 10.244.2.0/24 192.0.2.12 [pubkey-2]', 'add 10.244.3.0/24 192.0.2.13 []']);
    h.subnets.remove(extPeer(2, 'pubkey-2'));
    await until('the remove', () => lines(log).length === 3 || false);
    assert.equal(lines(log)[2], 'del 10.244.2.0/24 192.0.2.12 [pubkey-2]');
    // The line comes once the command has exited, a moment after it wrote its output.
    await until('the log line', () => h.logged('info', 'ran SubnetRemoveCommand for peer 10.244.2.0/24 via 192.0.2.12').length === 1 || false);
    await stop();
  });

  it('runs nothing for an unchanged re-list, and SubnetAddCommand again for a changed peer', async () => {
    const log = file('peers');
    const { h, stop } = await start(logCommands(log), { peers: [extPeer(2, 'a')] });
    await until('the add', () => lines(log).length === 1 || false);
    h.subnets.resnapshot();
    h.subnets.add(extPeer(2, 'b'));
    await until('the second add', () => lines(log).length === 2 || false);
    assert.deepEqual(lines(log), ['add 10.244.2.0/24 192.0.2.12 [a]', 'add 10.244.2.0/24 192.0.2.12 [b]']);
    await stop();
  });

  it('skips peers of another backend type and BackendData that is not a string, with a warning, as upstream', async () => {
    const log = file('peers');
    const vx = peer({ subnet: '10.244.4.0/24', publicIP: '192.0.2.14', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:04' } });
    const odd = peer({ subnet: '10.244.5.0/24', publicIP: '192.0.2.15', backendType: 'extension', backendData: { key: 1 } });
    const { h, stop } = await start(logCommands(log), { peers: [vx, odd, extPeer(2)] });
    await until('the add', () => lines(log).length === 1 || false);
    assert.deepEqual(lines(log), ['add 10.244.2.0/24 192.0.2.12 []']);
    assert.deepEqual(h.logged('warn', 'peer 10.244.'), [
      'peer 10.244.4.0/24 via 192.0.2.14 uses backend "vxlan", not extension: its commands are not run (all nodes must use one backend type)',
      'peer 10.244.5.0/24 via 192.0.2.15 has BackendData that is not a JSON string ({"key":1}): SubnetAddCommand is not run for it (an extension node\'s BackendData is its PreStartupCommand\'s output)',
    ]);
    h.subnets.remove(vx, odd);
    h.subnets.remove(extPeer(2));
    await until('the remove', () => lines(log).length === 2 || false);
    assert.deepEqual(lines(log), ['add 10.244.2.0/24 192.0.2.12 []', 'del 10.244.2.0/24 192.0.2.12 []']);
    await stop();
  });

  it('logs a failing SubnetAddCommand with its exit code and stderr and retries it, while other peers go on', async () => {
    const log = file('peers');
    const marker = file('first-failed');
    const add = `if [ "$SUBNET" = 10.244.2.0/24 ] && [ ! -e ${marker} ]; then touch ${marker}; echo "RTNETLINK answers: Network is unreachable" >&2; exit 2; fi; echo "add $SUBNET" >> ${log}`;
    const { h, stop } = await start({ SubnetAddCommand: add }, { peers: [extPeer(2), extPeer(3)] });
    await until('both adds', () => lines(log).length === 2 || false);
    assert.deepEqual(lines(log), ['add 10.244.3.0/24', 'add 10.244.2.0/24']);
    const [failure] = h.log.lines.filter((l) => l.level === 'error');
    assert.equal(failure?.msg, 'SubnetAddCommand failed with exit code 2: RTNETLINK answers: Network is unreachable; for peer 10.244.2.0/24 via 192.0.2.12; retrying in 20 ms (failure 1)');
    assert.equal(failure?.fields?.code, 2);
    assert.equal(failure?.fields?.stderr, 'RTNETLINK answers: Network is unreachable');
    await stop();
  });

  it('runs SubnetRemoveCommand for a peer whose SubnetAddCommand failed (to clean up what it did), and stops retrying its add', async () => {
    const log = file('peers');
    const { h, stop } = await start({ SubnetAddCommand: `echo "add $SUBNET" >> ${log}; exit 1`, SubnetRemoveCommand: `echo "del $SUBNET" >> ${log}` }, { peers: [extPeer(2)], init: { retry: { initialMs: 60_000, maxMs: 60_000 } } });
    await until('the failed add', () => h.logged('error', 'SubnetAddCommand failed with exit code 1').length === 1 || false);
    h.subnets.remove(extPeer(2));
    await until('the remove', () => lines(log).length === 2 || false);
    assert.deepEqual(lines(log), ['add 10.244.2.0/24', 'del 10.244.2.0/24']);
    await stop();
  });

  it('runs SubnetRemoveCommand for a peer that goes away even without a SubnetAddCommand, as upstream', async () => {
    const log = file('peers');
    const { h, stop } = await start({ SubnetRemoveCommand: `echo "del $SUBNET [$(cat)]" >> ${log}` }, { peers: [extPeer(2, 'k2')] });
    h.subnets.remove(extPeer(2, 'k2'));
    await until('the remove', () => lines(log).length === 1 || false);
    assert.deepEqual(lines(log), ['del 10.244.2.0/24 [k2]']);
    await stop();
  });

  it('stopping kills a command that is still running', async () => {
    const started = file('started');
    const { stop } = await start({ SubnetAddCommand: `touch ${started}; sleep 60` }, { peers: [extPeer(2)] });
    await until('the command to start', () => existsSync(started));
    const t0 = Date.now();
    await stop();
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
  });

  it('kills a peer command at the timeout and retries it', async () => {
    const count = file('count');
    const { h, stop } = await start({ SubnetAddCommand: `echo x >> ${count}; sleep 60` }, { peers: [extPeer(2)], init: { commandTimeoutMs: 200 } });
    await until('a retry', () => lines(count).length >= 2 || false);
    assert.match(h.logged('error', 'SubnetAddCommand did not finish')[0] ?? '', /^SubnetAddCommand did not finish within 200 ms and was killed \(with everything it started\); for peer 10\.244\.2\.0\/24 via 192\.0\.2\.12; retrying in 20 ms \(failure 1\)$/);
    await stop();
  });
});
