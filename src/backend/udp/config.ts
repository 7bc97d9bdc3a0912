/**
 * @module backend/udp/config
 * The udp keys of the Backend section (upstream has one: Port, default 8285), and the one rule
 * that involves the rest of the network configuration: udp carries IPv4 only.
 */
import { z } from 'zod';
import type { NetworkConfig } from '../../config/index.ts';
import { ConfigError } from '../../errors/index.ts';
import { parseBackendKeys, rule } from '../backend-config.ts';

export interface UdpConfig {
  /** The UDP port every node listens on and sends to. */
  readonly port: number;
}

export const DEFAULT_UDP_PORT = 8285;

const RULES = {
  // 0 would let the kernel pick a port, which no peer could know.
  Port: rule(z.number().int().min(1).max(65535), 'a UDP port number from 1 to 65535'),
};

export function parseUdpConfig(raw: Readonly<Record<string, unknown>>): { config: UdpConfig; warnings: string[] } {
  const { values, warnings } = parseBackendKeys(raw, 'udp', RULES);
  return { config: { port: values.Port ?? DEFAULT_UDP_PORT }, warnings };
}

/** Upstream's udp backend is IPv4 only: refuse what it cannot carry before anything is written. */
export function checkUdpFamilies(config: Pick<NetworkConfig, 'enableIPv4' | 'enableIPv6' | 'v4'>): void {
  if (config.enableIPv6) {
    throw new ConfigError('E_BACKEND_CONFIG', 'the udp backend carries IPv4 only, but EnableIPv6 is true', {
      hint: 'set "EnableIPv6": false (and leave out IPv6Network), or use a backend that carries IPv6 (vxlan, wireguard, host-gw)',
    });
  }
  if (!config.enableIPv4 || !config.v4) {
    throw new ConfigError('E_BACKEND_CONFIG', 'the udp backend carries IPv4 only, but EnableIPv4 is false', {
      hint: 'set "EnableIPv4": true with an IPv4 "Network", or use another backend',
    });
  }
}
