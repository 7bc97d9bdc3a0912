/**
 * @module wireguard/uapi
 * WireguardControl over wireguard-go's UAPI socket, `<socketDir>/<device>.sock` (socketDir is
 * /var/run/wireguard), speaking WireGuard's cross-platform configuration protocol: a request is
 * `set=1` or `get=1`, then `key=value` lines, then a blank line; the reply is `key=value` lines
 * (for get), then `errno=N` and a blank line. Keys are lower-case hex on this wire.
 *
 * One connection per request, as `wg` does: wireguard-go stops reading a `set` at the first line
 * it refuses, so what follows would be taken for the next request. Replies are read up to a bound,
 * every request has a deadline, and an AbortSignal ends it at once.
 */
import { connect, type Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { base64ToHex, hexToBase64, isBase64Key, publicKeyOf, ZERO_KEY } from './keys.ts';
import type { WireguardControl, WireguardDeviceConfig, WireguardDeviceState, WireguardEndpoint } from './types.ts';

export const DEFAULT_SOCKET_DIR = '/var/run/wireguard';
const DEFAULT_TIMEOUT_MS = 5000;
/** A get reply is ~450 bytes per peer: 5000 peers are ~2.3 MB. */
const DEFAULT_MAX_REPLY_BYTES = 32 * 1024 * 1024;

export interface UapiOptions {
  /** Where wireguard-go puts its sockets (default /var/run/wireguard). */
  socketDir?: string;
  /** Deadline of one request (default 5 s). */
  timeoutMs?: number;
  /** The largest reply accepted (default 32 MiB). */
  maxReplyBytes?: number;
}

export function uapiSocketPath(device: string, socketDir = DEFAULT_SOCKET_DIR): string {
  return join(socketDir, `${device}.sock`);
}

function uapiError(message: string, hint: string, cause?: unknown): BackendError {
  return new BackendError('E_WIREGUARD_UAPI', message, { hint, cause });
}

function configError(message: string): BackendError {
  return new BackendError('E_WIREGUARD_CONFIG', message, { hint: 'this is a bug in the caller of WireguardControl.configure: keys are 32-byte base64, ports and intervals 0-65535' });
}

function checkKey(what: string, key: string): void {
  if (!isBase64Key(key)) throw configError(`${what} is not a 32-byte base64 WireGuard key: ${JSON.stringify(key.slice(0, 8))}${key.length > 8 ? '...' : ''}`);
}

function checkU16(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw configError(`${what} must be a whole number from 0 to 65535, got ${n}`);
}

export function formatEndpoint(e: WireguardEndpoint): string {
  return e.ip.family === 6 ? `[${e.ip.toString()}]:${e.port}` : `${e.ip.toString()}:${e.port}`;
}

/** "1.2.3.4:51820", "[fd00::1]:51820" (a zone, "%eth0", is dropped); undefined when it is neither. */
export function parseEndpoint(text: string): WireguardEndpoint | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)(?:%[^\]]*)?\]|([0-9.]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const ip = IPAddress.tryParse(m[1] ?? m[2] ?? '');
  const port = Number(m[3]);
  if (!ip || port > 65535 || (m[1] !== undefined && ip.family !== 6)) return undefined;
  return { ip, port };
}

/** The exact text of a `set=1` request for `config`, blank line included. */
export function encodeSetRequest(config: WireguardDeviceConfig): string {
  const lines = ['set=1'];
  if (config.privateKey !== undefined) {
    checkKey('the private key', config.privateKey);
    lines.push(`private_key=${base64ToHex(config.privateKey)}`);
  }
  if (config.listenPort !== undefined) {
    checkU16('the listen port', config.listenPort);
    lines.push(`listen_port=${config.listenPort}`);
  }
  if (config.replacePeers) lines.push('replace_peers=true');
  for (const peer of config.peers) {
    checkKey('a peer public key', peer.publicKey);
    lines.push(`public_key=${base64ToHex(peer.publicKey)}`);
    if (peer.remove) {
      lines.push('remove=true');
      continue;
    }
    if (peer.presharedKey !== undefined) {
      checkKey(`the pre-shared key of peer ${peer.publicKey}`, peer.presharedKey);
      lines.push(`preshared_key=${base64ToHex(peer.presharedKey)}`);
    }
    if (peer.endpoint) {
      checkU16(`the endpoint port of peer ${peer.publicKey}`, peer.endpoint.port);
      lines.push(`endpoint=${formatEndpoint(peer.endpoint)}`);
    }
    if (peer.persistentKeepalive !== undefined) {
      checkU16(`the keepalive interval of peer ${peer.publicKey}`, peer.persistentKeepalive);
      lines.push(`persistent_keepalive_interval=${peer.persistentKeepalive}`);
    }
    if (peer.replaceAllowedIPs) lines.push('replace_allowed_ips=true');
    for (const cidr of peer.allowedIPs) lines.push(`allowed_ip=${cidr.toString()}`);
  }
  return `${lines.join('\n')}\n\n`;
}

interface MutablePeer {
  publicKey: string;
  presharedKey?: string;
  endpoint?: WireguardEndpoint;
  allowedIPs: Cidr[];
  persistentKeepalive: number;
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
}

/** The errno of a reply (`errno=N` as its last line), and the lines before it. */
export function splitReply(text: string, device: string): { errno: number; lines: string[] } {
  if (!text.endsWith('\n\n')) throw uapiError(`wireguard-go's reply for ${device} does not end with a blank line`, 'is this a WireGuard UAPI socket?');
  const lines = text.slice(0, -2).split('\n');
  const last = lines.pop() ?? '';
  const m = /^errno=(-?[0-9]{1,10})$/.exec(last);
  if (!m) throw uapiError(`wireguard-go's reply for ${device} does not end with an errno line (got ${JSON.stringify(last.slice(0, 60))})`, 'is this a WireGuard UAPI socket?');
  return { errno: Number(m[1]), lines };
}

/** Parses the lines of a `get=1` reply (without the errno line) into the device's state. */
export function parseGetLines(lines: readonly string[], device: string): WireguardDeviceState {
  let publicKey: string | undefined;
  let listenPort = 0;
  const peers: MutablePeer[] = [];
  let peer: MutablePeer | undefined;
  lines.forEach((line, i) => {
    const bad = (why: string): BackendError =>
      uapiError(`wireguard-go's reply for ${device} has an invalid line ${i + 1} (${JSON.stringify(line.slice(0, 80))}): ${why}`, 'wireguard-go and flanneld disagree on the UAPI protocol; check the wireguard-go version');
    const eq = line.indexOf('=');
    if (eq <= 0) throw bad('not key=value');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const key64 = (): string => {
      const k = hexToBase64(value);
      if (k === undefined) throw bad('not a 64-digit hex key');
      return k;
    };
    const int = (max: number): number => {
      if (!/^[0-9]{1,20}$/.test(value) || Number(value) > max) throw bad(`not a whole number up to ${max}`);
      return Number(value);
    };
    if (key === 'public_key') {
      peer = { publicKey: key64(), allowedIPs: [], persistentKeepalive: 0, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 };
      peers.push(peer);
      return;
    }
    if (!peer) {
      if (key === 'private_key') {
        const k = key64();
        publicKey = k === ZERO_KEY ? undefined : publicKeyOf(k);
      } else if (key === 'listen_port') listenPort = int(65535);
      // Others (fwmark, forks' own keys) say nothing the seam carries.
      return;
    }
    switch (key) {
      case 'preshared_key': {
        const k = key64();
        if (k === ZERO_KEY) delete peer.presharedKey;
        else peer.presharedKey = k;
        break;
      }
      case 'endpoint': {
        const e = parseEndpoint(value);
        if (!e) throw bad('not an ip:port endpoint');
        peer.endpoint = e;
        break;
      }
      case 'allowed_ip': {
        const c = Cidr.tryParse(value);
        if (!c) throw bad('not a CIDR');
        peer.allowedIPs.push(c);
        break;
      }
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = int(65535);
        break;
      case 'last_handshake_time_sec':
        peer.lastHandshakeSec = int(Number.MAX_SAFE_INTEGER);
        break;
      case 'rx_bytes':
        peer.rxBytes = int(Number.MAX_SAFE_INTEGER);
        break;
      case 'tx_bytes':
        peer.txBytes = int(Number.MAX_SAFE_INTEGER);
        break;
      default:
        // last_handshake_time_nsec, protocol_version and keys of newer versions.
        break;
    }
  });
  return { ...(publicKey !== undefined ? { publicKey } : {}), listenPort, peers };
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function errnoText(errno: number): string {
  const name = ERRNO_NAMES.get(Math.abs(errno));
  return name ? `errno ${errno}, ${name}` : `errno ${errno}`;
}

/** The BackendError for a refused `set`, in words that fit the errno. */
function setRefused(device: string, errno: number, config: WireguardDeviceConfig): BackendError {
  const name = ERRNO_NAMES.get(Math.abs(errno));
  if (name === 'EADDRINUSE') {
    return uapiError(`wireguard-go could not listen on UDP port ${config.listenPort ?? '(unchanged)'} for ${device}: the port is in use (${errnoText(errno)})`,
      'another program or WireGuard device holds that port; stop it or choose another Backend.ListenPort');
  }
  return uapiError(`wireguard-go refused the configuration of ${device} (${errnoText(errno)})`,
    "wireguard-go logs the line it refused (flanneld's log, component wireguard-go); this is most likely a bug in flanneld: please report it");
}

export class UapiControl implements WireguardControl {
  readonly kind = 'userspace';
  readonly #socketDir: string;
  readonly #timeoutMs: number;
  readonly #maxReplyBytes: number;

  constructor(options: UapiOptions = {}) {
    this.#socketDir = options.socketDir ?? DEFAULT_SOCKET_DIR;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  }

  socketPath(device: string): string {
    return uapiSocketPath(device, this.#socketDir);
  }

  async configure(device: string, config: WireguardDeviceConfig, signal?: AbortSignal): Promise<void> {
    const request = encodeSetRequest(config);
    const reply = await this.#exchange(device, request, 'set', signal);
    if (reply === undefined) {
      throw uapiError(`cannot configure ${device}: wireguard-go is not running for it (no one answers on ${this.socketPath(device)})`,
        "flanneld starts and restarts wireguard-go itself; see its log for why wireguard-go stopped");
    }
    const { errno, lines } = splitReply(reply, device);
    if (lines.length > 0) throw uapiError(`wireguard-go's reply to a set for ${device} has ${lines.length} unexpected lines before its errno`, 'is this a WireGuard UAPI socket?');
    if (errno !== 0) throw setRefused(device, errno, config);
  }

  async get(device: string, signal?: AbortSignal): Promise<WireguardDeviceState | undefined> {
    const reply = await this.#exchange(device, 'get=1\n\n', 'get', signal);
    if (reply === undefined) return undefined;
    const { errno, lines } = splitReply(reply, device);
    if (errno !== 0) throw uapiError(`wireguard-go could not report the state of ${device} (${errnoText(errno)})`, "see wireguard-go's log (flanneld's log, component wireguard-go)");
    return parseGetLines(lines, device);
  }

  /** True when wireguard-go answers a get for `device` (used to wait until it is up). */
  async answers(device: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.#exchange(device, 'get=1\n\n', 'get', signal)) !== undefined;
  }

  /** Sends `request`, returns the whole reply; undefined when no one listens on the socket. */
  #exchange(device: string, request: string, op: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const path = this.socketPath(device);
    signal?.throwIfAborted();
    return new Promise<string | undefined>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let connected = false;
      let settled = false;
      const sock: Socket = connect(path);
      const finish = (err: unknown, value?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        if (err !== undefined) reject(err);
        else resolve(value);
      };
      const onAbort = (): void => finish(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        finish(uapiError(`wireguard-go did not answer a ${op} for ${device} on ${path} within ${this.#timeoutMs / 1000} s`,
          'wireguard-go may be hung or the machine overloaded; flanneld restarts wireguard-go when it exits (kill it to force that)'));
      }, this.#timeoutMs);
      sock.on('connect', () => {
        connected = true;
        sock.write(request);
      });
      sock.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.#maxReplyBytes) {
          finish(uapiError(`wireguard-go's reply to a ${op} for ${device} is larger than ${this.#maxReplyBytes} bytes, the limit`, 'is this a WireGuard UAPI socket?'));
          return;
        }
        chunks.push(chunk);
        // A reply's only blank line is its last: "errno=N\n\n".
        const tail = chunks.length === 1 ? chunk : Buffer.concat(chunks.slice(-2));
        if (tail.length >= 2 && tail[tail.length - 1] === 0x0a && tail[tail.length - 2] === 0x0a) finish(undefined, Buffer.concat(chunks).toString('utf8'));
      });
      sock.on('end', () => {
        finish(uapiError(`wireguard-go closed the connection before its reply to a ${op} for ${device} ended`, 'wireguard-go may have exited meanwhile; flanneld restarts it'));
      });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        // No socket file, or a file no process listens on (wireguard-go was killed): no device.
        if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) finish(undefined, undefined);
        else finish(uapiError(`talking to wireguard-go for ${device} on ${path} failed: ${err.code ?? err.message}`, err.code === 'EACCES' ? 'run flanneld as root: the socket is mode 0700' : 'see whether wireguard-go runs for this device', err));
      });
    });
  }
}
