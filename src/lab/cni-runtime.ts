/**
 * @module lab/cni-runtime
 * What a container runtime does with a CNI conflist (libcni's job): run each plugin in order for
 * ADD, passing the previous result as prevResult; in reverse order for DEL. The lab uses it so its
 * pods are created exactly as kubelet would create them, through the shipped conflist.
 */
import { spawnSync } from 'node:child_process';
import { run } from './spawner.ts';

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface CniInvocation {
  containerId: string;
  netnsPath: string;
  ifName: string;
  /** Colon-separated plugin directories. */
  cniPath: string;
  /** Run the plugins inside this network namespace (the node's), as kubelet runs in the host's. */
  hostNetns: string;
}

export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** How the runtime runs one plugin: in the node's namespace, the first executable of that name on CNI_PATH. */
function pluginCall(list: ConfList, plugin: ConfList['plugins'][number], command: 'ADD' | 'DEL' | 'CHECK', inv: CniInvocation, prevResult?: unknown): { argv: string[]; input: string; env: NodeJS.ProcessEnv } {
  const conf = { cniVersion: list.cniVersion, name: list.name, ...plugin, ...(prevResult ? { prevResult } : {}) };
  const bin = inv.cniPath.split(':').map((d) => `${d}/${plugin.type}`);
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netnsPath,
    CNI_IFNAME: inv.ifName,
    CNI_PATH: inv.cniPath,
  };
  const argv = ['ip', 'netns', 'exec', inv.hostNetns, 'sh', '-c', 'for p in "$@"; do [ -x "$p" ] && exec "$p"; done; echo "{\\"code\\":999,\\"msg\\":\\"plugin not found in CNI_PATH\\"}"; exit 1', 'find-plugin', ...bin];
  return { argv, input: JSON.stringify(conf), env };
}

/** The plugin's result (or the previous one when it prints nothing), or a CniError from its exit status and output. */
function pluginOutcome(plugin: ConfList['plugins'][number], command: string, r: { status: number | null; stdout: string; stderr: string }, prevResult?: unknown): unknown {
  if (r.status !== 0) {
    let msg = r.stdout.trim() || r.stderr.trim() || `exit ${r.status}`;
    let code: number | undefined;
    try {
      const err = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      code = err.code;
      msg = `${err.msg ?? msg}${err.details ? ` (${err.details})` : ''}`;
    } catch {
      /* not JSON */
    }
    throw new CniError(plugin.type, code, `CNI ${command} failed in plugin "${plugin.type}"${code ? ` [code ${code}]` : ''}: ${msg}`);
  }
  return r.stdout.trim() === '' ? prevResult : (JSON.parse(r.stdout) as unknown);
}

function runPlugin(list: ConfList, plugin: ConfList['plugins'][number], command: 'ADD' | 'DEL' | 'CHECK', inv: CniInvocation, prevResult?: unknown): unknown {
  const { argv: [cmd = 'ip', ...args], input, env } = pluginCall(list, plugin, command, inv, prevResult);
  const r = spawnSync(cmd, args, { input, env, encoding: 'utf8', timeout: 30_000 });
  return pluginOutcome(plugin, command, r, prevResult);
}

/** The same through the lab's spawner (a fork of this process per plugin costs more than the plugin). */
async function runPluginAsync(list: ConfList, plugin: ConfList['plugins'][number], command: 'ADD' | 'DEL', inv: CniInvocation, prevResult?: unknown): Promise<unknown> {
  const { argv, input, env } = pluginCall(list, plugin, command, inv, prevResult);
  const { code, stdout, stderr } = await run(argv, { env, input, timeoutMs: 30_000 });
  return pluginOutcome(plugin, command, { status: code, stdout, stderr }, prevResult);
}

/** cniAdd without blocking: pods of different nodes are created side by side. */
export async function cniAddAsync(list: ConfList, inv: CniInvocation): Promise<unknown> {
  let result: unknown;
  for (const plugin of list.plugins) result = await runPluginAsync(list, plugin, 'ADD', inv, result);
  return result;
}

export function cniAdd(list: ConfList, inv: CniInvocation): unknown {
  let result: unknown;
  for (const plugin of list.plugins) result = runPlugin(list, plugin, 'ADD', inv, result);
  return result;
}

export function cniCheck(list: ConfList, inv: CniInvocation, prevResult: unknown): void {
  for (const plugin of list.plugins) runPlugin(list, plugin, 'CHECK', inv, prevResult);
}

export function cniDel(list: ConfList, inv: CniInvocation): void {
  for (const plugin of [...list.plugins].reverse()) runPlugin(list, plugin, 'DEL', inv);
}
