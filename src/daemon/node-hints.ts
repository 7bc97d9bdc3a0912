/**
 * @module daemon/node-hints
 * What this node held before: the subnets in an existing subnet.env, when they still belong to
 * the configured networks (a changed Network makes them meaningless).
 */
import { readFile } from 'node:fs/promises';
import type { NetworkConfig } from '../config/index.ts';
import { describeError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { parseSubnetEnv } from '../subnetenv/index.ts';
import type { NodeHints } from '../subnet/index.ts';

export async function readNodeHints(subnetFile: string, config: NetworkConfig, log: Logger): Promise<NodeHints> {
  let text: string;
  try {
    text = await readFile(subnetFile, 'utf8');
  } catch {
    return {};
  }
  try {
    const env = parseSubnetEnv(text, subnetFile);
    const v4 = env.subnet && config.v4?.network.containsCidr(env.subnet) ? env.subnet : undefined;
    const v6 = env.ipv6Subnet && config.v6?.network.containsCidr(env.ipv6Subnet) ? env.ipv6Subnet : undefined;
    if (v4 || v6) log.info(`found previous subnet in ${subnetFile}: ${[v4, v6].filter(Boolean).join(' ')}`);
    return v4 || v6 ? { previous: { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) } } : {};
  } catch (err) {
    log.warn(`ignoring unreadable ${subnetFile}: ${describeError(err)}`);
    return {};
  }
}
