/**
 * @module cni/commands/del
 * DEL: replay the delegate configuration ADD saved, then remove it. No saved file means there is
 * nothing of ours to undo (DEL after DEL, or ADD never got that far): success. So is a path ADD
 * cannot have written (a directory, FIFO, device or oversized file), which DEL does not touch.
 * In the compiled plugin the delegate reads the saved file itself and answers the runtime on our
 * stdout (nothing on success, its own CNI error otherwise), as for ADD: no pipe to drain (-1.1 ms
 * per DEL, measured against capturing).
 */
import { validatePluginType } from '../delegate.ts';
import { findPlugin, runPlugin, runPluginAnswering } from '../invoke.ts';
import { parseNetConf } from '../net-conf.ts';
import { loadDelegate, removeDelegate, savedDelegatePath } from '../saved-delegates.ts';
import type { CommandContext, CommandResult } from './context.ts';

function savedType(bytes: string): string | undefined {
  try {
    const d: unknown = JSON.parse(bytes);
    return typeof d === 'object' && d !== null && 'type' in d && typeof d.type === 'string' ? d.type : undefined;
  } catch {
    return undefined;
  }
}

export async function cmdDel(ctx: CommandContext): Promise<CommandResult> {
  const conf = parseNetConf(ctx.stdin);
  const id = ctx.env.containerId;
  const found = await loadDelegate(conf.dataDir, id);
  if (found.kind === 'absent') return '';
  if (found.kind === 'foreign') {
    // Not a file ADD wrote, so nothing of ours to undo; and not ours to remove either.
    ctx.warn(`flannel: ${conf.dataDir}/${id} is not a delegate configuration (${found.why}); leaving it alone, nothing to undo`);
    return '';
  }
  const saved = found.bytes;
  const type = savedType(saved);
  if (type === undefined) {
    // As upstream: an unreadable file cannot be replayed; drop it rather than fail DEL forever.
    ctx.warn(`flannel: ${conf.dataDir}/${id} is not a delegate configuration; removing it without running a delegate DEL`);
    await removeDelegate(conf.dataDir, id);
    return '';
  }
  validatePluginType('type (saved delegate)', type);
  const run = { path: findPlugin(type, ctx.env.path), command: 'DEL', stdin: saved, env: ctx.rawEnv };
  if (ctx.delegateMayAnswer) {
    // A failed DEL keeps the file, so that the runtime's retry replays it.
    const exitCode = runPluginAnswering(run, savedDelegatePath(conf.dataDir, id));
    if (exitCode === 0) await removeDelegate(conf.dataDir, id);
    return { delegateAnswered: true, exitCode };
  }
  runPlugin(run);
  await removeDelegate(conf.dataDir, id);
  return '';
}
