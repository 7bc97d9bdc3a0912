/**
 * @module cni/commands/add
 * ADD: subnet.env + configuration -> delegate configuration, saved first, then run; the delegate's
 * result goes to stdout unchanged (in the compiled plugin the delegate writes it there itself).
 */
import { CniCode, CniError } from '../cni-error.ts';
import { buildDelegate } from '../delegate.ts';
import { findPlugin, runPlugin, runPluginAnswering } from '../invoke.ts';
import { parseNetConf } from '../net-conf.ts';
import { savedDelegatePath, writeDelegate, type SavedDelegate } from '../saved-delegates.ts';
import { loadSubnetEnv } from '../subnet-file.ts';
import type { CommandContext, CommandResult } from './context.ts';

export async function cmdAdd(ctx: CommandContext): Promise<CommandResult> {
  const conf = parseNetConf(ctx.stdin);
  const delegate = buildDelegate(conf, await loadSubnetEnv(conf.subnetFile));
  // Look the plugin up before saving: a missing plugin must not leave a file DEL cannot replay.
  const plugin = findPlugin(delegate.type as string, ctx.env.path);
  let saved: SavedDelegate;
  try {
    saved = await writeDelegate(conf.dataDir, ctx.env.containerId, delegate);
  } catch (err) {
    if (err instanceof CniError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new CniError(CniCode.Internal, `failed to save the delegate config to ${savedDelegatePath(conf.dataDir, ctx.env.containerId)}: ${msg}`, 'dataDir must be a writable local directory (default /var/lib/cni/flannel)', { cause: err });
  }
  const run = { path: plugin, command: 'ADD', stdin: saved.bytes, env: ctx.rawEnv };
  if (!ctx.delegateMayAnswer) return runPlugin(run);
  // The compiled plugin lets the delegate read the saved file and answer the runtime directly.
  return { delegateAnswered: true, exitCode: runPluginAnswering(run, saved.path) };
}
