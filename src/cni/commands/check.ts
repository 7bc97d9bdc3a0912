/**
 * @module cni/commands/check
 * CHECK: like upstream, nothing to verify beyond the input itself (environment, configuration and
 * a spec version that has CHECK).
 */
import { parseNetConf } from '../net-conf.ts';
import { requireCommandVersion } from '../versions.ts';
import type { CommandContext } from './context.ts';

export function cmdCheck(ctx: CommandContext): string {
  const conf = parseNetConf(ctx.stdin);
  requireCommandVersion('CHECK', conf.cniVersion, '0.4.0');
  return '';
}
