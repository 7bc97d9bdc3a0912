/**
 * @module wireguard/keys
 * WireGuard keys: X25519 private keys, the public keys derived from them and pre-shared keys, all
 * 32 bytes. flannel (the lease's BackendData, net-conf.json's PSK) and `wg` write them in base64;
 * wireguard-go's UAPI wants lower-case hex; generic netlink wants the raw bytes.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors/index.ts';

export const KEY_BYTES = 32;

/** Standard base64 of 32 bytes: 43 characters and one "=" (the last character carries 4 bits). */
const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-f]{64}$/;

/** True for a string that is exactly a 32-byte key in canonical base64, as `wg` prints it. */
export function isBase64Key(text: string): boolean {
  return BASE64_KEY.test(text);
}

/** The 32 bytes of a base64 key; throws (a programming error) on anything else. */
export function keyBytes(base64: string): Buffer {
  if (!isBase64Key(base64)) throw new TypeError(`not a 32-byte base64 WireGuard key: ${JSON.stringify(base64.slice(0, 60))}`);
  return Buffer.from(base64, 'base64');
}

export function keyFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== KEY_BYTES) throw new TypeError(`a WireGuard key has ${KEY_BYTES} bytes, not ${bytes.length}`);
  return Buffer.from(bytes).toString('base64');
}

/** base64 (flannel, wg) -> lower-case hex (UAPI). */
export function base64ToHex(base64: string): string {
  return keyBytes(base64).toString('hex');
}

/** Lower-case hex (UAPI) -> base64; undefined when `hex` is not 64 lower-case hex digits. */
export function hexToBase64(hex: string): string | undefined {
  return HEX_KEY.test(hex) ? Buffer.from(hex, 'hex').toString('base64') : undefined;
}

/** The all-zero key: how WireGuard says "no key" (no pre-shared key, no private key). */
export const ZERO_KEY = Buffer.alloc(KEY_BYTES).toString('base64');

/** Clamps 32 random bytes into an X25519 private key, as `wg genkey` does. */
function clamp(bytes: Buffer): Buffer {
  bytes[0] = (bytes[0] ?? 0) & 248;
  bytes[31] = ((bytes[31] ?? 0) & 127) | 64;
  return bytes;
}

/** A new private key (base64), like `wg genkey`. */
export function generatePrivateKey(): string {
  return clamp(randomBytes(KEY_BYTES)).toString('base64');
}

/** A new pre-shared key (base64), like `wg genpsk`: 32 random bytes, not clamped. */
export function generatePresharedKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** The public key (base64) of a private key (base64), like `wg pubkey`; X25519 clamps for us. */
export function publicKeyOf(privateKey: string): string {
  const d = keyBytes(privateKey).toString('base64url');
  const pub = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' }));
  const jwk = pub.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('X25519 public key export gave no "x"');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** What a value looks like in a message, without printing a long (maybe secret) value whole. */
function describeValue(v: unknown): string {
  if (typeof v !== 'string') return v === undefined ? 'nothing' : v === null ? 'null' : `a ${typeof v}`;
  const shown = v.length > 12 ? `"${v.slice(0, 6)}..." (${v.length} characters)` : JSON.stringify(v);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) return `${shown}, which is not base64`;
  const bytes = Buffer.from(v, 'base64').length;
  return bytes === KEY_BYTES ? `${shown}, which is not canonical base64 (\`wg\` rejects it too)` : `${shown}, which is base64 of ${bytes} bytes`;
}

/**
 * Validates a pre-shared key given in the configuration: 32 bytes of canonical base64, as printed
 * by `wg genpsk`. The message never shows more than the first 6 characters of the value.
 */
export function parsePresharedKey(value: unknown, key = 'Backend.PSK'): string {
  if (typeof value === 'string' && isBase64Key(value)) return value;
  throw new ConfigError('E_BACKEND_CONFIG', `${key} must be a 32-byte base64 key as printed by \`wg genpsk\`, got ${describeValue(value)}`, {
    hint: `generate one with \`wg genpsk\` (44 characters ending in "=") and set the same value in ${key} on every node`,
  });
}
