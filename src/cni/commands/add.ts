/**
 * @module cni/commands/add
 * ADD: subnet.env + configuration -> delegate configuration, saved first, then run; the delegate's
 * result goes to stdout unchanged.
 */
import { CniCode, CniError } from '../cni-error.ts';
import { buildDelegate } from '../delegate.ts';
import { findPlugin, startPlugin } from '../invoke.ts';
import { parseNetConf } from '../net-conf.ts';
import { savedDelegatePath, syncDelegate, writeDelegate, type SavedDelegate } from '../saved-delegates.ts';
import { loadSubnetEnv } from '../subnet-file.ts';
import type { CommandContext } from './context.ts';

export async function cmdAdd(ctx: CommandContext): Promise<string> {
  const conf = parseNetConf(ctx.stdin);
  const delegate = buildDelegate(conf, loadSubnetEnv(conf.subnetFile));
  // Look the plugin up before saving: a missing plugin must not leave a file DEL cannot replay.
  const plugin = findPlugin(delegate.type as string, ctx.env.path);
  let saved: SavedDelegate;
  try {
    saved = writeDelegate(conf.dataDir, ctx.env.containerId, delegate);
  } catch (err) {
    if (err instanceof CniError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new CniError(CniCode.Internal, `failed to save the delegate config to ${savedDelegatePath(conf.dataDir, ctx.env.containerId)}: ${msg}`, 'dataDir must be a writable local directory (default /var/lib/cni/flannel)', { cause: err });
  }
  // The delegate runs while the saved file is flushed; success waits for both.
  const result = startPlugin({ path: plugin, command: 'ADD', stdin: saved.bytes, env: ctx.rawEnv });
  result.catch(() => undefined);
  try {
    syncDelegate(saved);
  } catch (err) {
    await result.catch(() => undefined);
    const msg = err instanceof Error ? err.message : String(err);
    throw new CniError(CniCode.Internal, `failed to flush the delegate config ${saved.path} to disk: ${msg}`, 'dataDir must be a writable local directory (default /var/lib/cni/flannel)', { cause: err });
  }
  return await result;
}
