/**
 * @module cni/commands/status
 * STATUS (spec 1.1.0): ready when subnet.env is readable and valid and the delegate plugin is in
 * CNI_PATH; a delegate that speaks 1.1.0 is asked too. Otherwise code 50 with the reason.
 */
import { CniCode, CniError } from '../cni-error.ts';
import { buildDelegate, delegateType } from '../delegate.ts';
import { MISSING_PLUGIN_HINT, lookupPlugin, pluginSupports, runPlugin } from '../invoke.ts';
import { parseNetConf } from '../net-conf.ts';
import { loadSubnetEnv } from '../subnet-file.ts';
import { canonicalJson } from '../canonical-json.ts';
import { requireCommandVersion } from '../versions.ts';
import type { CommandContext } from './context.ts';

const NOT_AVAILABLE = 'plugin not available';

export async function cmdStatus(ctx: CommandContext): Promise<string> {
  const conf = parseNetConf(ctx.stdin);
  requireCommandVersion('STATUS', conf.cniVersion, '1.1.0');
  let env;
  try {
    env = await loadSubnetEnv(conf.subnetFile);
  } catch (err) {
    throw new CniError(CniCode.PluginNotAvailable, NOT_AVAILABLE, err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (ctx.env.path === '') return ''; // no CNI_PATH: nothing more we can look at
  const type = delegateType(conf);
  const plugin = lookupPlugin(type, ctx.env.path);
  if (plugin === undefined) {
    throw new CniError(CniCode.PluginNotAvailable, NOT_AVAILABLE, `delegate plugin "${type}" is not in CNI_PATH=${ctx.env.path}. ${MISSING_PLUGIN_HINT}`);
  }
  if (pluginSupports(plugin, conf.cniVersion, ctx.rawEnv)) {
    runPlugin({ path: plugin, command: 'STATUS', stdin: canonicalJson(buildDelegate(conf, env)), env: ctx.rawEnv });
  }
  return '';
}
