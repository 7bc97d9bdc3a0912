/**
 * @module backend/vxlan/config
 * The vxlan keys of the Backend section, with upstream's defaults.
 */
import { z } from 'zod';
import { parseBackendKeys, rule } from '../backend-config.ts';

export interface VxlanConfig {
  readonly vni: number;
  /** UDP port; 0 leaves the kernel default (8472). */
  readonly port: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
  /** Replaces the external interface MTU before the encapsulation overhead is taken off. */
  readonly mtu?: number;
}

const MAX_VNI = 0xffffff;
/** The smallest underlay MTU that leaves a VXLAN-over-IPv6 device the IPv4 minimum of 68. */
const MIN_MTU = 138;

const RULES = {
  VNI: rule(z.number().int().min(0).max(MAX_VNI), `a whole number from 0 to ${MAX_VNI}`),
  Port: rule(z.number().int().min(0).max(65535), 'a UDP port number from 0 to 65535 (0: the kernel default, 8472)'),
  GBP: rule(z.boolean(), 'true or false'),
  Learning: rule(z.boolean(), 'true or false'),
  DirectRouting: rule(z.boolean(), 'true or false'),
  MTU: rule(z.number().int().min(MIN_MTU).max(65535), `a whole number from ${MIN_MTU} to 65535 (the underlay MTU, before the VXLAN overhead is taken off)`),
  // Upstream reads it on Windows only.
  MacPrefix: rule(z.string(), 'a string'),
};

export function parseVxlanConfig(raw: Readonly<Record<string, unknown>>): { config: VxlanConfig; warnings: string[] } {
  const { values: v, warnings } = parseBackendKeys(raw, 'vxlan', RULES);
  if (v.MacPrefix !== undefined) warnings.push('Backend.MacPrefix is only used on Windows and is ignored');
  const config: VxlanConfig = {
    vni: v.VNI ?? 1,
    port: v.Port ?? 0,
    gbp: v.GBP ?? false,
    learning: v.Learning ?? false,
    directRouting: v.DirectRouting ?? false,
    ...(v.MTU !== undefined ? { mtu: v.MTU } : {}),
  };
  return { config, warnings };
}
