/**
 * @module wireguard/genetlink
 * WireguardControl for kernel WireGuard, over generic netlink (family "wireguard", version 1):
 * WG_CMD_SET_DEVICE to configure, a WG_CMD_GET_DEVICE dump to read, as `wg` does.
 *
 * The messages are encoded and decoded here, not with the `netlink` package's `wg` helpers: the
 * kernel parses every peer and allowed-IP entry with nla_parse_nested(), which refuses a nest
 * without NLA_F_NESTED (EINVAL), and the package never sets that flag. The package still carries
 * the messages (its socket). A configuration larger than one message allows is split as `wg` splits
 * it: device attributes in the first message only, peers across messages, and a peer with more
 * allowed IPs than fit continued in the next message (without its REPLACE_ALLOWEDIPS flag).
 */
import { endianness } from 'node:os';
import { BackendError } from '../errors/index.ts';
import { Cidr, IPAddress } from '../ip/index.ts';
import { isBase64Key, keyBytes, keyFromBytes, publicKeyOf, ZERO_KEY } from './keys.ts';
import type { WireguardControl, WireguardDeviceConfig, WireguardDeviceState, WireguardEndpoint, WireguardPeerConfig, WireguardPeerState } from './types.ts';

// <linux/wireguard.h>
export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;
export const WGDEVICE_A = { IFINDEX: 1, IFNAME: 2, PRIVATE_KEY: 3, PUBLIC_KEY: 4, FLAGS: 5, LISTEN_PORT: 6, FWMARK: 7, PEERS: 8 } as const;
export const WGDEVICE_F_REPLACE_PEERS = 1;
export const WGPEER_A = {
  PUBLIC_KEY: 1, PRESHARED_KEY: 2, FLAGS: 3, ENDPOINT: 4, PERSISTENT_KEEPALIVE_INTERVAL: 5,
  LAST_HANDSHAKE_TIME: 6, RX_BYTES: 7, TX_BYTES: 8, ALLOWEDIPS: 9, PROTOCOL_VERSION: 10,
} as const;
export const WGPEER_F = { REMOVE_ME: 1, REPLACE_ALLOWEDIPS: 2, UPDATE_ONLY: 4 } as const;
export const WGALLOWEDIP_A = { FAMILY: 1, IPADDR: 2, CIDR_MASK: 3 } as const;
// <linux/genetlink.h>
export const GENL_ID_CTRL = 16;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const NLA_F_NESTED = 0x8000;
const AF_INET = 2;
const AF_INET6 = 10;
/** IFNAMSIZ - 1. */
const MAX_IFNAME = 15;
/**
 * Attribute bytes per message. A nest's length is 16 bits (65535 at most), and `wg` keeps messages
 * to a page or two; 32 KiB holds ~200 flannel peers and stays far from both.
 */
export const MAX_MESSAGE_ATTR_BYTES = 32 * 1024;

const LE = endianness() === 'LE';

// ---- attribute writing ----

/** Appends netlink attributes (4-byte header, data, padding to 4) to one growing buffer. */
class AttrWriter {
  #buf = Buffer.alloc(256);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  #header(type: number, dataLength: number): void {
    this.#reserve(4 + dataLength + 3);
    const len = 4 + dataLength;
    if (LE) this.#buf.writeUInt16LE(len, this.#len);
    else this.#buf.writeUInt16BE(len, this.#len);
    if (LE) this.#buf.writeUInt16LE(type, this.#len + 2);
    else this.#buf.writeUInt16BE(type, this.#len + 2);
    this.#len += 4;
  }

  #pad(): void {
    while (this.#len % 4 !== 0) this.#buf[this.#len++] = 0;
  }

  bytes(type: number, data: Uint8Array): this {
    this.#header(type, data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    this.#pad();
    return this;
  }

  string(type: number, text: string): this {
    return this.bytes(type, Buffer.from(`${text}\0`, 'utf8'));
  }

  u8(type: number, v: number): this {
    return this.bytes(type, Uint8Array.of(v));
  }

  u16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    if (LE) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return this.bytes(type, b);
  }

  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    if (LE) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return this.bytes(type, b);
  }

  /** A nest (NLA_F_NESTED set): its length covers its children with their padding, as libmnl's. */
  nest(type: number, fill: (w: AttrWriter) => void): this {
    this.#reserve(4);
    const start = this.#len;
    this.#len += 4;
    fill(this);
    const len = this.#len - start;
    if (len > 0xffff) throw new RangeError(`netlink nest of ${len} bytes exceeds 65535`);
    if (LE) {
      this.#buf.writeUInt16LE(len, start);
      this.#buf.writeUInt16LE(type | NLA_F_NESTED, start + 2);
    } else {
      this.#buf.writeUInt16BE(len, start);
      this.#buf.writeUInt16BE(type | NLA_F_NESTED, start + 2);
    }
    return this;
  }

  /** Appends already encoded attributes. */
  raw(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len));
  }
}

/** struct sockaddr_in (16 bytes) or struct sockaddr_in6 (28 bytes); the port in network order. */
export function encodeSockaddr(e: WireguardEndpoint): Buffer {
  const b = Buffer.alloc(e.ip.family === 4 ? 16 : 28);
  if (LE) b.writeUInt16LE(e.ip.family === 4 ? AF_INET : AF_INET6, 0);
  else b.writeUInt16BE(e.ip.family === 4 ? AF_INET : AF_INET6, 0);
  b.writeUInt16BE(e.port, 2);
  // sockaddr_in: the address at 4; sockaddr_in6: flowinfo at 4, the address at 8, scope id at 24.
  e.ip.writeBytes(b, e.ip.family === 4 ? 4 : 8);
  return b;
}

function checkConfig(device: string, config: WireguardDeviceConfig): void {
  const bad = (what: string): BackendError =>
    new BackendError('E_WIREGUARD_CONFIG', `cannot configure ${device}: ${what}`, { hint: 'this is a bug in the caller of WireguardControl.configure: keys are 32-byte base64, ports and intervals 0-65535' });
  const u16 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (device === '' || Buffer.byteLength(device) > MAX_IFNAME || device.includes('\0')) throw bad(`"${device}" is not a device name (1-15 bytes)`);
  if (config.privateKey !== undefined && !isBase64Key(config.privateKey)) throw bad('the private key is not a 32-byte base64 key');
  if (config.listenPort !== undefined && !u16(config.listenPort)) throw bad(`listen port ${config.listenPort} is not 0-65535`);
  for (const p of config.peers) {
    if (!isBase64Key(p.publicKey)) throw bad(`peer public key ${JSON.stringify(p.publicKey.slice(0, 8))}... is not a 32-byte base64 key`);
    if (p.presharedKey !== undefined && !isBase64Key(p.presharedKey)) throw bad(`the pre-shared key of peer ${p.publicKey} is not a 32-byte base64 key`);
    if (p.endpoint && !u16(p.endpoint.port)) throw bad(`the endpoint port ${p.endpoint.port} of peer ${p.publicKey} is not 0-65535`);
    if (p.persistentKeepalive !== undefined && !u16(p.persistentKeepalive)) throw bad(`the keepalive interval ${p.persistentKeepalive} of peer ${p.publicKey} is not 0-65535`);
  }
}

function encodeAllowedIP(w: AttrWriter, c: Cidr): void {
  w.nest(0, (a) => {
    a.u16(WGALLOWEDIP_A.FAMILY, c.family === 4 ? AF_INET : AF_INET6);
    a.bytes(WGALLOWEDIP_A.IPADDR, c.ip.toBytes());
    a.u8(WGALLOWEDIP_A.CIDR_MASK, c.prefix);
  });
}

/** A peer's attributes before its allowed IPs; `first` false for a continuation in a later message. */
function encodePeerHead(w: AttrWriter, p: WireguardPeerConfig, first: boolean): void {
  w.bytes(WGPEER_A.PUBLIC_KEY, keyBytes(p.publicKey));
  if (!first) return;
  if (p.remove) {
    w.u32(WGPEER_A.FLAGS, WGPEER_F.REMOVE_ME);
    return;
  }
  if (p.presharedKey !== undefined) w.bytes(WGPEER_A.PRESHARED_KEY, keyBytes(p.presharedKey));
  if (p.replaceAllowedIPs) w.u32(WGPEER_A.FLAGS, WGPEER_F.REPLACE_ALLOWEDIPS);
  if (p.endpoint) w.bytes(WGPEER_A.ENDPOINT, encodeSockaddr(p.endpoint));
  if (p.persistentKeepalive !== undefined) w.u16(WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL, p.persistentKeepalive);
}

function encodedLength(fill: (w: AttrWriter) => void): number {
  const w = new AttrWriter();
  fill(w);
  return w.length;
}

/**
 * The attribute payloads (what follows the genl header) of the WG_CMD_SET_DEVICE messages that
 * apply `config` to `device`, in the order to send them. Each stays within `maxBytes`.
 */
export function encodeSetDevice(device: string, config: WireguardDeviceConfig, maxBytes = MAX_MESSAGE_ATTR_BYTES): Buffer[] {
  checkConfig(device, config);
  const messages: Buffer[] = [];
  const deviceHead = (first: boolean): AttrWriter => {
    const w = new AttrWriter().string(WGDEVICE_A.IFNAME, device);
    if (!first) return w;
    if (config.privateKey !== undefined) w.bytes(WGDEVICE_A.PRIVATE_KEY, keyBytes(config.privateKey));
    if (config.listenPort !== undefined) w.u16(WGDEVICE_A.LISTEN_PORT, config.listenPort);
    if (config.replacePeers) w.u32(WGDEVICE_A.FLAGS, WGDEVICE_F_REPLACE_PEERS);
    return w;
  };
  let msg = deviceHead(true);
  /** Encoded peers (each a whole nest) waiting for the current message's PEERS nest. */
  let peers = new AttrWriter();
  const flush = (): void => {
    const out = peers.length > 0 ? msg.nest(WGDEVICE_A.PEERS, (w) => w.raw(peers.toBuffer())) : msg;
    messages.push(out.toBuffer());
    msg = deviceHead(false);
    peers = new AttrWriter();
  };
  const room = (): number => maxBytes - msg.length - 4 /* PEERS nest header */ - peers.length;
  for (const p of config.peers) {
    const allowed = p.remove ? [] : p.allowedIPs;
    let first = true;
    let next = 0;
    // Emit this peer in as many pieces as it takes.
    for (;;) {
      const headLen = 4 + encodedLength((w) => encodePeerHead(w, p, first)) + (allowed.length - next > 0 ? 4 : 0);
      const ipLens = allowed.slice(next).map((c) => encodedLength((w) => encodeAllowedIP(w, c)));
      let fit = 0;
      let used = headLen;
      while (fit < ipLens.length && used + (ipLens[fit] ?? 0) <= room()) used += ipLens[fit++] ?? 0;
      if (used > room() || (fit === 0 && ipLens.length > 0)) {
        if (peers.length === 0) {
          if (headLen + (ipLens[0] ?? 0) > maxBytes - msg.length - 4) throw new RangeError(`maxBytes ${maxBytes} cannot hold one peer`);
        }
        flush();
        continue;
      }
      const ips = allowed.slice(next, next + fit);
      const isFirst = first;
      peers.nest(0, (w) => {
        encodePeerHead(w, p, isFirst);
        if (ips.length > 0) w.nest(WGPEER_A.ALLOWEDIPS, (a) => ips.forEach((c) => encodeAllowedIP(a, c)));
      });
      next += fit;
      first = false;
      if (next >= allowed.length) break;
      flush();
    }
  }
  if (peers.length > 0 || messages.length === 0) flush();
  return messages;
}

/** The attribute payload of a WG_CMD_GET_DEVICE dump request for `device`. */
export function encodeGetDevice(device: string): Buffer {
  return new AttrWriter().string(WGDEVICE_A.IFNAME, device).toBuffer();
}

/** The attribute payload of CTRL_CMD_GETFAMILY for the "wireguard" family. */
export function encodeGetFamily(name = WG_GENL_NAME): Buffer {
  return new AttrWriter().string(CTRL_ATTR_FAMILY_NAME, name).toBuffer();
}

// ---- attribute reading ----

interface Attr {
  type: number;
  data: Buffer;
}

function malformed(what: string): BackendError {
  return new BackendError('E_WIREGUARD_NETLINK', `the kernel's WireGuard reply is malformed: ${what}`, { hint: 'this is a bug in flanneld or the kernel: please report it with the kernel version' });
}

/** The attributes in `buf` (type without the NESTED / NET_BYTEORDER bits). */
export function parseAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = LE ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
    const type = (LE ? buf.readUInt16LE(off + 2) : buf.readUInt16BE(off + 2)) & 0x3fff;
    if (len < 4 || off + len > buf.length) throw malformed(`attribute of length ${len} at offset ${off} of ${buf.length}`);
    out.push({ type, data: buf.subarray(off + 4, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

function u16Of(d: Buffer): number {
  if (d.length < 2) throw malformed('short u16');
  return LE ? d.readUInt16LE(0) : d.readUInt16BE(0);
}

function u64Of(d: Buffer): number {
  if (d.length < 8) throw malformed('short u64');
  return Number(LE ? d.readBigUInt64LE(0) : d.readBigUInt64BE(0));
}

export function decodeSockaddr(d: Buffer): WireguardEndpoint | undefined {
  if (d.length < 2) return undefined;
  const family = LE ? d.readUInt16LE(0) : d.readUInt16BE(0);
  if (family === AF_INET && d.length >= 8) return { ip: IPAddress.fromBytes(d.subarray(4, 8)), port: d.readUInt16BE(2) };
  if (family === AF_INET6 && d.length >= 24) return { ip: IPAddress.fromBytes(d.subarray(8, 24)), port: d.readUInt16BE(2) };
  return undefined;
}

function keyOf(d: Buffer): string {
  if (d.length !== 32) throw malformed(`a key of ${d.length} bytes`);
  return keyFromBytes(d);
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

function decodePeer(buf: Buffer): MutablePeer {
  const peer: MutablePeer = { publicKey: '', allowedIPs: [], persistentKeepalive: 0, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 };
  for (const a of parseAttrs(buf)) {
    switch (a.type) {
      case WGPEER_A.PUBLIC_KEY:
        peer.publicKey = keyOf(a.data);
        break;
      case WGPEER_A.PRESHARED_KEY: {
        const k = keyOf(a.data);
        if (k !== ZERO_KEY) peer.presharedKey = k;
        break;
      }
      case WGPEER_A.ENDPOINT: {
        const e = decodeSockaddr(a.data);
        if (e) peer.endpoint = e;
        break;
      }
      case WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL:
        peer.persistentKeepalive = u16Of(a.data);
        break;
      case WGPEER_A.LAST_HANDSHAKE_TIME:
        // struct __kernel_timespec: s64 seconds, s64 nanoseconds.
        peer.lastHandshakeSec = u64Of(a.data);
        break;
      case WGPEER_A.RX_BYTES:
        peer.rxBytes = u64Of(a.data);
        break;
      case WGPEER_A.TX_BYTES:
        peer.txBytes = u64Of(a.data);
        break;
      case WGPEER_A.ALLOWEDIPS:
        for (const entry of parseAttrs(a.data)) {
          let family = 0;
          let addr: Buffer | undefined;
          let mask = -1;
          for (const f of parseAttrs(entry.data)) {
            if (f.type === WGALLOWEDIP_A.FAMILY) family = u16Of(f.data);
            else if (f.type === WGALLOWEDIP_A.IPADDR) addr = f.data;
            else if (f.type === WGALLOWEDIP_A.CIDR_MASK && f.data.length >= 1) mask = f.data[0] ?? -1;
          }
          if (!addr || (family === AF_INET ? addr.length !== 4 : family === AF_INET6 ? addr.length !== 16 : true) || mask < 0) throw malformed('an allowed IP without family, address or mask');
          peer.allowedIPs.push(Cidr.of(IPAddress.fromBytes(addr), mask));
        }
        break;
      default:
        break;
    }
  }
  if (peer.publicKey === '') throw malformed('a peer without a public key');
  return peer;
}

/**
 * The device state from the attribute payloads of a GET_DEVICE dump (one device, maybe several
 * messages; a peer cut at a message boundary continues as the first peer of the next).
 */
export function decodeGetDevice(payloads: readonly Buffer[]): WireguardDeviceState {
  let publicKey: string | undefined;
  let listenPort = 0;
  const peers: MutablePeer[] = [];
  payloads.forEach((payload, i) => {
    for (const a of parseAttrs(payload)) {
      if (a.type === WGDEVICE_A.PUBLIC_KEY && i === 0) {
        const k = keyOf(a.data);
        publicKey = k === ZERO_KEY ? undefined : k;
      } else if (a.type === WGDEVICE_A.PRIVATE_KEY && i === 0 && publicKey === undefined) {
        const k = keyOf(a.data);
        if (k !== ZERO_KEY) publicKey = publicKeyOf(k);
      } else if (a.type === WGDEVICE_A.LISTEN_PORT && i === 0) listenPort = u16Of(a.data);
      else if (a.type === WGDEVICE_A.PEERS) {
        parseAttrs(a.data).forEach((entry, j) => {
          const peer = decodePeer(entry.data);
          const last = peers[peers.length - 1];
          if (j === 0 && i > 0 && last && last.publicKey === peer.publicKey) last.allowedIPs.push(...peer.allowedIPs);
          else peers.push(peer);
        });
      }
    }
  });
  return { ...(publicKey !== undefined ? { publicKey } : {}), listenPort, peers: peers as WireguardPeerState[] };
}

/** The family id in a CTRL_CMD_GETFAMILY reply's payload. */
export function decodeFamilyId(payload: Buffer): number {
  const a = parseAttrs(payload).find((x) => x.type === CTRL_ATTR_FAMILY_ID);
  if (!a) throw malformed('no CTRL_ATTR_FAMILY_ID in the family reply');
  return u16Of(a.data);
}

// ---- the transport ----

/** An errno the kernel answered with (name as in node's os.constants.errno, e.g. "ENOENT"). */
export class GenlErrnoError extends Error {
  readonly errno: string;
  constructor(errno: string) {
    super(`netlink request rejected: ${errno}`);
    this.errno = errno;
  }
}

/** Generic netlink requests; the default one (netlink-transport.ts) uses the `netlink` package. */
export interface GenlTransport {
  /**
   * Sends one request (the attribute payload after the genl header) and returns the attribute
   * payloads of the replies (none for an acknowledged change). Rejects with GenlErrnoError when
   * the kernel answers an errno.
   */
  request(family: number, cmd: number, version: number, attrs: Buffer, options: { dump: boolean; signal?: AbortSignal }): Promise<Buffer[]>;
  close(): void;
}

const NO_KERNEL_HINT =
  'load the module (`modprobe wireguard`; Linux 5.6 and later have it) or use the userspace data path, wireguard-go (`apt-get install wireguard-go`; Backend.Implementation "userspace")';

/** The error for a kernel without WireGuard. */
export function noKernelWireguard(cause?: unknown): BackendError {
  return new BackendError('E_WIREGUARD_NO_KERNEL', 'this kernel has no WireGuard: the generic netlink family "wireguard" does not exist (no wireguard module loaded or built in)', { hint: NO_KERNEL_HINT, cause });
}

/** The id of the "wireguard" family, or undefined when the kernel has none. */
export async function resolveWireguardFamily(transport: GenlTransport, signal?: AbortSignal): Promise<number | undefined> {
  try {
    const replies = await transport.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, encodeGetFamily(), { dump: false, ...(signal ? { signal } : {}) });
    const first = replies[0];
    if (!first) throw malformed('an empty family reply');
    return decodeFamilyId(first);
  } catch (err) {
    if (err instanceof GenlErrnoError && err.errno === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * True when the kernel has WireGuard: resolves the generic netlink family, which changes nothing
 * (asking for it by name may make the kernel load the module, as `ip link add type wireguard`
 * would). Any failure to ask is a false too, with the reason.
 */
export async function kernelHasWireguard(transport: GenlTransport, signal?: AbortSignal): Promise<{ available: boolean; reason: string }> {
  try {
    const id = await resolveWireguardFamily(transport, signal);
    return id === undefined ? { available: false, reason: 'the generic netlink family "wireguard" does not exist' } : { available: true, reason: `generic netlink family "wireguard" has id ${id}` };
  } catch (err) {
    if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) throw err;
    return { available: false, reason: `asking the kernel for the "wireguard" family failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function kernelRefused(device: string, op: string, errno: string, cause: unknown): BackendError {
  const hints: Record<string, string> = {
    ENODEV: `create the device first (ip link add ${device} type wireguard)`,
    EOPNOTSUPP: `${device} is not a WireGuard device; delete it and let flanneld create it`,
    EPERM: 'run flanneld as root or with CAP_NET_ADMIN',
    EADDRINUSE: 'another program or WireGuard device holds that UDP port; stop it or choose another Backend.ListenPort',
    EINVAL: 'this is a bug in flanneld: please report it with the kernel version',
  };
  const what = errno === 'ENODEV' ? `there is no device ${device}` : errno === 'EOPNOTSUPP' ? `${device} is not a WireGuard device` : errno === 'EADDRINUSE' ? 'the listen port is in use' : `the kernel refused it`;
  return new BackendError('E_WIREGUARD_NETLINK', `${op} WireGuard device ${device}: ${what} (${errno})`, { hint: hints[errno] ?? 'see the kernel log (dmesg)', cause });
}

export class GenetlinkControl implements WireguardControl {
  readonly kind = 'kernel';
  readonly #transport: GenlTransport;
  #family: Promise<number> | undefined;
  readonly #maxBytes: number;

  constructor(transport: GenlTransport, options: { maxMessageBytes?: number } = {}) {
    this.#transport = transport;
    this.#maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_ATTR_BYTES;
  }

  #familyId(signal?: AbortSignal): Promise<number> {
    if (!this.#family) {
      this.#family = resolveWireguardFamily(this.#transport, signal).then((id) => {
        if (id === undefined) throw noKernelWireguard();
        return id;
      });
      this.#family.catch(() => {
        this.#family = undefined;
      });
    }
    return this.#family;
  }

  async configure(device: string, config: WireguardDeviceConfig, signal?: AbortSignal): Promise<void> {
    const messages = encodeSetDevice(device, config, this.#maxBytes);
    const family = await this.#familyId(signal);
    for (const attrs of messages) {
      try {
        await this.#transport.request(family, WG_CMD_SET_DEVICE, WG_GENL_VERSION, attrs, { dump: false, ...(signal ? { signal } : {}) });
      } catch (err) {
        if (err instanceof GenlErrnoError) throw kernelRefused(device, 'configure', err.errno, err);
        throw err;
      }
    }
  }

  async get(device: string, signal?: AbortSignal): Promise<WireguardDeviceState | undefined> {
    const family = await this.#familyId(signal);
    let replies: Buffer[];
    try {
      replies = await this.#transport.request(family, WG_CMD_GET_DEVICE, WG_GENL_VERSION, encodeGetDevice(device), { dump: true, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (err instanceof GenlErrnoError && err.errno === 'ENODEV') return undefined;
      if (err instanceof GenlErrnoError) throw kernelRefused(device, 'read', err.errno, err);
      throw err;
    }
    return decodeGetDevice(replies);
  }

  close(): void {
    this.#transport.close();
  }
}
