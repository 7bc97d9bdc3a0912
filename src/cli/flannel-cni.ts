#!/usr/bin/env node
/**
 * flannel: the CNI plugin entry point. The runtime starts it once per pod and command, so it
 * does as little as possible: read env and stdin, dispatch, write stdout, exit. Shipped compiled
 * (dist/bin/flannel, bun --compile); `node dist/cli/flannel-cni.js` behaves the same, slower.
 * No node: imports here or on the ADD/DEL path: see src/cni/sys/sys.ts for why.
 */
import { canExecPlugin, execPlugin, type PluginRun } from '../cni/invoke.ts';
import { runCni } from '../cni/plugin.ts';
import { sys } from '../cni/sys/sys.ts';

function programVersion(): string {
  // Set at compile time by scripts/build-cni.mjs; under node, read package.json.
  const built = process.env.FLANNEL_TS_BUILD_VERSION;
  if (built) return built;
  try {
    const pkg = JSON.parse(sys().readText(new URL('../../package.json', import.meta.url).pathname)) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** ADD ends by becoming the delegate where the runtime can exec (the compiled plugin). */
function execDelegate(run: PluginRun, stderr: string): never {
  if (stderr) sys().writeOut(2, stderr);
  return execPlugin(run);
}

// No top-level await: bun's --bytecode build does not allow it.
void runCni({
  env: process.env,
  readStdin: () => sys().readStdin(),
  programVersion,
  ...(canExecPlugin() ? { execDelegate } : {}),
}).then((outcome) => {
  if (outcome.stdout) sys().writeOut(1, outcome.stdout);
  if (outcome.stderr) sys().writeOut(2, outcome.stderr);
  process.exit(outcome.exitCode);
});
