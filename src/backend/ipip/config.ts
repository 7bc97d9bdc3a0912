/**
 * @module backend/ipip/config
 * The ipip keys of the Backend section: upstream has exactly one, DirectRouting.
 */
import { z } from 'zod';
import { parseBackendKeys, rule } from '../backend-config.ts';

export interface IpipConfig {
  /** Peers on the external interface's own L2 network are routed directly, without the tunnel. */
  readonly directRouting: boolean;
}

const RULES = {
  DirectRouting: rule(z.boolean(), 'true or false'),
};

export function parseIpipConfig(raw: Readonly<Record<string, unknown>>): { config: IpipConfig; warnings: string[] } {
  const { values, warnings } = parseBackendKeys(raw, 'ipip', RULES);
  return { config: { directRouting: values.DirectRouting ?? false }, warnings };
}
