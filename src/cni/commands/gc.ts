/**
 * @module cni/commands/gc
 * GC (spec 1.1.0): removes saved delegate files of this network whose container is not in
 * `cni.dev/valid-attachments`; then runs the delegate's GC when the delegate
 * speaks 1.1.0 (host-local can then free leaked addresses). libcni has already sent DEL for the
 * stale attachments it knew about; what is left here is what it did not know.
 */
import { CniCode, CniError } from '../cni-error.ts';
import { canonicalJson } from '../canonical-json.ts';
import { buildDelegate, delegateType } from '../delegate.ts';
import { lookupPlugin, pluginSupports, runPlugin } from '../invoke.ts';
import { parseNetConf, type FlannelNetConf } from '../net-conf.ts';
import { listDelegates, loadDelegate, removeDelegate } from '../saved-delegates.ts';
import { loadSubnetEnv } from '../subnet-file.ts';
import { requireCommandVersion } from '../versions.ts';
import type { CommandContext } from './context.ts';

function savedNetworkName(bytes: string): string | undefined {
  try {
    const d: unknown = JSON.parse(bytes);
    return typeof d === 'object' && d !== null && 'name' in d && typeof d.name === 'string' ? d.name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes this network's saved files for containers not in `valid`; returns the removed IDs. An
 * entry it cannot read is skipped with a warning: one bad file must not stop the collection.
 */
export async function collectSavedDelegates(conf: FlannelNetConf, valid: ReadonlySet<string>, warn: (line: string) => void): Promise<string[]> {
  const removed: string[] = [];
  for (const { containerId, path } of listDelegates(conf.dataDir)) {
    if (valid.has(containerId)) continue;
    let found;
    try {
      found = await loadDelegate(conf.dataDir, containerId);
    } catch (err) {
      warn(`flannel: GC: skipping ${path}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    // dataDir may be shared by several flannel networks: only touch files of this one.
    if (found.kind !== 'saved' || savedNetworkName(found.bytes) !== conf.name) continue;
    await removeDelegate(conf.dataDir, containerId);
    removed.push(containerId);
  }
  return removed;
}

export async function cmdGc(ctx: CommandContext): Promise<string> {
  const conf = parseNetConf(ctx.stdin);
  requireCommandVersion('GC', conf.cniVersion, '1.1.0');
  const attachments = conf.validAttachments;
  if (attachments === undefined) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'GC needs cni.dev/valid-attachments', 'without the list of valid attachments nothing can be told stale; nothing was removed');
  }
  await collectSavedDelegates(conf, new Set(attachments.map((a) => a.containerID)), ctx.warn);

  const plugin = lookupPlugin(delegateType(conf), ctx.env.path);
  if (plugin === undefined || !pluginSupports(plugin, conf.cniVersion, ctx.rawEnv)) return '';
  let env;
  try {
    env = await loadSubnetEnv(conf.subnetFile);
  } catch (err) {
    ctx.warn(`flannel: GC: skipping the delegate's GC: ${err instanceof Error ? err.message : String(err)}`);
    return '';
  }
  // Both spellings, as libcni sends them.
  const delegate = { ...buildDelegate(conf, env), 'cni.dev/valid-attachments': attachments, 'cni.dev/attachments': attachments };
  runPlugin({ path: plugin, command: 'GC', stdin: canonicalJson(delegate), env: ctx.rawEnv });
  return '';
}
