/**
 * The userspace WireGuard data path end to end: two network namespaces joined by a veth, in each a
 * wireguard-go started and supervised by src/wireguard/userspace.ts and configured through
 * src/wireguard/uapi.ts, with generated keys and a PSK; a ping crosses the tunnel, get() and
 * `wg show` agree, and a killed wireguard-go comes back configured by the onStarted hook.
 *
 * wireguard-go always puts its socket in /var/run/wireguard, which every network namespace shares.
 * So each wireguard-go runs in a private mount namespace (`unshare --mount`) where a per-run
 * directory is bind-mounted on /var/run/wireguard; this process reaches the socket through that
 * directory. Both namespaces can then use the device name flannel-wg, as two real nodes would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cidr, IPAddress } from '../../src/ip/index.ts';
import { createMemoryLogger, type MemoryLogger } from '../../src/log/index.ts';
import { generatePresharedKey, generatePrivateKey, publicKeyOf } from '../../src/wireguard/keys.ts';
import { UapiControl } from '../../src/wireguard/uapi.ts';
import { startWireguardGo, type WireguardGo } from '../../src/wireguard/userspace.ts';
import type { WireguardDeviceConfig } from '../../src/wireguard/types.ts';
import { Netns, deleteNamespaces, uniquePrefix } from '../harness/netns.ts';
import { skipUnlessPrivileged } from '../harness/privileges.ts';
import { waitFor } from '../harness/wait.ts';

const DEVICE = 'flannel-wg';
const PORT = 51820;
const SOCKET_DIR = '/var/run/wireguard';

/** Runs argv in `ns` inside a private mount namespace whose /var/run/wireguard is `dir`. */
function inPrivateRun(ns: Netns, dir: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns.name, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" ${SOCKET_DIR} && exec "$@"`, dir, ...argv];
}

interface Node {
  ns: Netns;
  dir: string;
  underlay: string;
  subnet: Cidr;
  privateKey: string;
  publicKey: string;
  log: MemoryLogger;
  uapi: UapiControl;
  wg?: WireguardGo;
  starts: number;
  ac: AbortController;
}

describe('userspace WireGuard (wireguard-go) between two namespaces', { skip: skipUnlessPrivileged(['wireguard-go', 'wg', 'unshare', 'ping']) }, () => {
  const prefix = uniquePrefix('flt');
  const tmp = mkdtempSync(join(tmpdir(), `${prefix}-wg-`));
  const psk = generatePresharedKey();
  let createdSocketDir = false;
  const nodes: Node[] = [];

  const config = (self: Node, peer: Node): WireguardDeviceConfig => ({
    privateKey: self.privateKey,
    listenPort: PORT,
    replacePeers: true,
    peers: [{ publicKey: peer.publicKey, presharedKey: psk, endpoint: { ip: IPAddress.parse(peer.underlay), port: PORT }, allowedIPs: [peer.subnet], replaceAllowedIPs: true }],
  });

  /** What the backend will do in onStarted: configure the device, then give it its address and route. */
  const applyAll = async (self: Node, peer: Node, signal: AbortSignal): Promise<void> => {
    self.starts++;
    await self.uapi.configure(DEVICE, config(self, peer), signal);
    self.ns.exec('ip', ['link', 'set', DEVICE, 'mtu', '1420']);
    self.ns.exec('ip', ['addr', 'replace', `${self.subnet.ip.toString()}/32`, 'dev', DEVICE]);
    self.ns.exec('ip', ['link', 'set', DEVICE, 'up']);
    self.ns.exec('ip', ['route', 'replace', '10.50.0.0/16', 'dev', DEVICE]);
  };

  const wgShow = (n: Node): string[] =>
    n.ns.exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" ${SOCKET_DIR} && exec wg show ${DEVICE} dump`, n.dir]).trim().split('\n');

  before(async () => {
    if (!existsSync(SOCKET_DIR)) {
      mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o755 });
      createdSocketDir = true;
    }
    for (const [i, side] of ['a', 'b'].entries()) {
      const dir = join(tmp, side);
      mkdirSync(dir, { mode: 0o700 });
      const privateKey = generatePrivateKey();
      nodes.push({
        ns: Netns.create(`${prefix}-${side}`),
        dir,
        underlay: `192.0.2.${i + 1}`,
        subnet: Cidr.parse(`10.50.${i + 1}.0/24`),
        privateKey,
        publicKey: publicKeyOf(privateKey),
        log: createMemoryLogger(),
        uapi: new UapiControl({ socketDir: dir }),
        starts: 0,
        ac: new AbortController(),
      });
    }
    const [a, b] = nodes as [Node, Node];
    a.ns.exec('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', b.ns.name]);
    for (const n of nodes) {
      n.ns.exec('ip', ['addr', 'add', `${n.underlay}/24`, 'dev', 'veth0']);
      n.ns.exec('ip', ['link', 'set', 'veth0', 'up']);
    }
  });

  after(async () => {
    for (const n of nodes) n.ac.abort();
    await Promise.all(nodes.map((n) => n.wg?.stopped));
    deleteNamespaces(prefix);
    rmSync(tmp, { recursive: true, force: true });
    if (createdSocketDir) {
      try {
        rmdirSync(SOCKET_DIR);
      } catch {
        /* something else uses it now */
      }
    }
  });

  it('starts wireguard-go in each, a ping crosses the tunnel, get() shows the handshake and the PSK, and wg show agrees', async () => {
    const [a, b] = nodes as [Node, Node];
    // B first finds a wireguard-go left from an "earlier run" holding its device: it takes over.
    const leftover = b.ns.spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" ${SOCKET_DIR} && WG_PROCESS_FOREGROUND=1 exec wireguard-go -f ${DEVICE}`, b.dir], { stdio: 'ignore' });
    const leftoverExit = new Promise<number | null>((r) => leftover.on('exit', (code) => r(code)));
    await waitFor('the leftover wireguard-go to answer', () => b.uapi.answers(DEVICE), 20_000);

    const t0 = performance.now();
    for (const [self, peer] of [[a, b], [b, a]] as const) {
      self.wg = await startWireguardGo(
        { device: DEVICE, logger: self.log, socketDir: self.dir, wrap: (argv) => inPrivateRun(self.ns, self.dir, argv), onStarted: (_s, signal) => applyAll(self, peer, signal), readyTimeoutMs: 20_000 },
        self.ac.signal,
      );
    }
    const startedMs = performance.now() - t0;
    await leftoverExit;
    assert.ok(b.log.lines.some((l) => l.level === 'warn' && l.msg === `a wireguard-go from an earlier run serves ${DEVICE} (${join(b.dir, `${DEVICE}.sock`)} answers); stopping it so this one can take the device over`));

    for (const n of nodes) {
      assert.ok(n.wg?.pid);
      assert.equal(readFileSync(`/proc/${n.wg.pid}/comm`, 'utf8').trim(), 'wireguard-go', 'the supervised pid is wireguard-go itself (ip, unshare and sh exec into it)');
      const [link] = n.ns.ipJson<Array<{ ifname: string; mtu: number; flags: string[]; link_type: string }>>(['link', 'show', DEVICE]);
      assert.equal(link?.mtu, 1420);
      assert.equal(link?.link_type, 'none');
      assert.ok(link?.flags.includes('UP'));
    }

    const t1 = performance.now();
    a.ns.exec('ping', ['-c', '1', '-W', '10', b.subnet.ip.toString()]);
    const pingMs = performance.now() - t1;
    a.ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '5', b.subnet.ip.toString()]);

    const state = await a.uapi.get(DEVICE);
    assert.ok(state);
    assert.equal(state.publicKey, a.publicKey);
    assert.equal(state.listenPort, PORT);
    assert.equal(state.peers.length, 1);
    const peer = state.peers[0];
    assert.ok(peer);
    assert.equal(peer.publicKey, b.publicKey);
    assert.equal(peer.presharedKey, psk);
    assert.equal(peer.endpoint?.ip.toString(), b.underlay);
    assert.equal(peer.endpoint?.port, PORT);
    assert.deepEqual(peer.allowedIPs.map(String), ['10.50.2.0/24']);
    assert.ok(peer.lastHandshakeSec > 0, 'a handshake happened');
    assert.ok(Math.abs(peer.lastHandshakeSec - Date.now() / 1000) < 300);
    assert.ok(peer.rxBytes > 0 && peer.txBytes > 0);

    // wg(8) reads the same socket: it must agree. dump: private public port fwmark / public psk endpoint allowed handshake rx tx keepalive.
    const [dev, peerLine] = wgShow(a);
    assert.deepEqual(dev?.split('\t').slice(1, 3), [a.publicKey, String(PORT)]);
    const f = peerLine?.split('\t') ?? [];
    assert.deepEqual(f.slice(0, 4), [b.publicKey, psk, `${b.underlay}:${PORT}`, '10.50.2.0/24']);
    assert.ok(Number(f[4]) >= peer.lastHandshakeSec);
    assert.equal(f[7], 'off');
    console.log(`# wireguard-go x2 started and configured in ${startedMs.toFixed(0)} ms; first ping (handshake included) answered in ${pingMs.toFixed(0)} ms`);
  });

  it('restarts a killed wireguard-go, logs it, and onStarted configures it again', async () => {
    const [a, b] = nodes as [Node, Node];
    const wg = a.wg;
    assert.ok(wg?.pid);
    const oldPid = wg.pid;
    const t0 = performance.now();
    process.kill(oldPid, 'SIGKILL');
    // The supervisor logs the restart after onStarted returns: wait for that line too, not only the start.
    const restartLogged = (): boolean => a.log.lines.some((l) => l.msg.startsWith('wireguard-go for flannel-wg restarted'));
    await waitFor('the supervisor to restart wireguard-go and log it', () => a.starts === 2 && wg.pid !== undefined && restartLogged(), 30_000);
    const restartMs = performance.now() - t0;
    assert.notEqual(wg.pid, oldPid);
    assert.equal(wg.restarts, 1);
    const msgs = a.log.lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.msg}`);
    assert.deepEqual(msgs.slice(-2), ['error wireguard-go for flannel-wg was killed by SIGKILL; restarting it in 1 s', `info wireguard-go for flannel-wg restarted (pid ${wg.pid}, restart 1)`]);
    const t1 = performance.now();
    a.ns.exec('ping', ['-c', '1', '-W', '10', b.subnet.ip.toString()]);
    const pingMs = performance.now() - t1;
    const peer = (await a.uapi.get(DEVICE))?.peers[0];
    assert.equal(peer?.presharedKey, psk);
    assert.ok((peer?.lastHandshakeSec ?? 0) > 0, 'a new handshake with the same keys');
    // B needed no change: its peer entry for A is the same.
    assert.equal((await b.uapi.get(DEVICE))?.peers[0]?.publicKey, a.publicKey);
    console.log(`# SIGKILL -> restarted and configured again in ${restartMs.toFixed(0)} ms (1 s of it the backoff); next ping answered in ${pingMs.toFixed(0)} ms`);
  });

  it('stops on abort: processes gone, sockets removed', async () => {
    const pids = nodes.map((n) => n.wg?.pid);
    for (const n of nodes) n.ac.abort();
    await Promise.all(nodes.map((n) => n.wg?.stopped));
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z', false, `wireguard-go ${pid} is gone`);
    for (const n of nodes) {
      assert.deepEqual(readdirSync(n.dir), []);
      assert.equal(n.ns.ipJson<unknown[]>(['link', 'show', 'dev', 'veth0']).length, 1);
      assert.throws(() => n.ns.exec('ip', ['link', 'show', DEVICE]), /does not exist/);
      assert.equal(n.log.lines.at(-1)?.msg, `wireguard-go for ${DEVICE} stopped`);
    }
  });
});
