/**
 * @module backend/wireguard/backend-data
 * The wireguard lease BackendData, as upstream writes it: {"PublicKey":"<base64>","Port":51820}
 * (the IPv6 device's in BackendV6Data).
 */
import { z } from 'zod';
import type { JsonValue } from '../../lease/index.ts';
import { shortJson } from '../backend-config.ts';

export interface WireguardLeaseData {
  /** Base64. */
  readonly publicKey: string;
  readonly port: number;
}

const Schema = z.object({
  PublicKey: z.string().refine((s) => /^[A-Za-z0-9+/]{43}=$/.test(s) && Buffer.from(s, 'base64').length === 32, 'not a base64 WireGuard key'),
  Port: z.number().int().min(1).max(65535),
});

/** Key order matters to byte-for-byte comparisons of lease values: PublicKey, then Port. */
export function encodeWireguardData(d: WireguardLeaseData): JsonValue {
  return { PublicKey: d.publicKey, Port: d.port };
}

/** The decoded data, or why it cannot be used. */
export function decodeWireguardData(value: JsonValue | undefined): WireguardLeaseData | { problem: string } {
  if (value === undefined || value === null) return { problem: 'no PublicKey and Port' };
  const parsed = Schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${shortJson(value)}: ${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}` };
  }
  return { publicKey: parsed.data.PublicKey, port: parsed.data.Port };
}
