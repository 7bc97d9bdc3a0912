#!/usr/bin/env node
/**
 * flannel: the CNI plugin entry point. The runtime starts it once per pod and command, so it
 * does as little as possible: read env and stdin, dispatch, write stdout, exit. Shipped compiled
 * (dist/bin/flannel, bun --compile); `node dist/cli/flannel-cni.js` behaves the same, slower.
 * No node: imports here or on the ADD/DEL path: see src/cni/sys/sys.ts for why.
 */
import { canLetPluginAnswer } from '../cni/invoke.ts';
import { runCni } from '../cni/plugin.ts';
import { sys } from '../cni/sys/sys.ts';

async function programVersion(): Promise<string> {
  // Set at compile time by scripts/build-cni.mjs; under node, read package.json.
  const built = process.env.FLANNEL_TS_BUILD_VERSION;
  if (built) return built;
  try {
    const pkg = JSON.parse(await sys().readText(new URL('../../package.json', import.meta.url).pathname, 1024 * 1024)) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const version = await programVersion();
  const outcome = await runCni({ env: process.env, readStdin: (limit) => sys().readStdin(limit), programVersion: () => version, delegateMayAnswer: canLetPluginAnswer() });
  if (outcome.stdout) await sys().writeOut(1, outcome.stdout);
  if (outcome.stderr) await sys().writeOut(2, outcome.stderr);
  return outcome.exitCode;
}

// No top-level await: bun's --bytecode build does not allow it.
void main().then((code) => process.exit(code));
