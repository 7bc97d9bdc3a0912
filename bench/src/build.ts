/**
 * What the benchmark runs: flanneld and the CNI plugin compiled from the working tree into a
 * private directory (node_modules/.cache/flannel-ts-bench/<run>), so the numbers are for the current
 * source and not for a stale dist/, and flanneld runs as it ships (plain node on compiled JS,
 * no tsx loader thread inflating its memory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Parent of each run's private build directory. */
export const BUILD_CACHE = join(ROOT, 'node_modules/.cache/flannel-ts-bench');

/** build: compile the working tree (default); dist: use dist/ as built by `npm run build` + `build:cni`; source: flanneld through tsx. */
export type BuildMode = 'build' | 'dist' | 'source';

export interface Artifacts {
  readonly mode: BuildMode;
  /** Command line that starts flanneld, before its own flags; `nodeFlags` go to node (e.g. --cpu-prof). */
  flanneldArgv(nodeFlags?: readonly string[]): string[];
  /** The compiled CNI plugin (one executable). */
  readonly cniPlugin: string;
  readonly describe: string;
}

function run(cmd: string, args: string[], what: string, tolerate?: () => boolean): string | undefined {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return undefined;
  const output = `${r.stdout}${r.stderr}`.trim();
  if (tolerate?.()) return output;
  throw new Error(`${what} failed (status ${r.status}):\n${output}`);
}

/** Builds into `dir` (one per run, so concurrent runs never overwrite each other's binaries). */
export function prepareArtifacts(mode: BuildMode, dir: string, progress: (msg: string) => void): Artifacts {
  if (mode === 'dist') {
    const entry = join(ROOT, 'dist/cli/flanneld.js');
    const plugin = join(ROOT, 'dist/bin/flannel');
    for (const p of [entry, plugin]) if (!existsSync(p)) throw new Error(`${p} is missing: run "npm run build && npm run build:cni" (or use --build=build)`);
    return { mode, flanneldArgv: (flags = []) => [process.execPath, ...flags, entry], cniPlugin: plugin, describe: 'dist/ as built' };
  }
  mkdirSync(dir, { recursive: true });
  const plugin = join(dir, 'bin/flannel');
  progress(`compiling the CNI plugin into ${plugin}`);
  run(process.execPath, [join(ROOT, 'scripts/build-cni.mjs'), '--outfile', plugin], 'building the CNI plugin');
  if (mode === 'source') {
    return {
      mode,
      flanneldArgv: (flags = []) => [process.execPath, ...flags, '--import', 'tsx', join(ROOT, 'src/cli/flanneld.ts')],
      cniPlugin: plugin,
      describe: 'flanneld from source through tsx; CNI plugin compiled from the working tree',
    };
  }
  const out = join(dir, 'dist');
  progress(`compiling flanneld into ${out}`);
  const { entry, typeErrors } = compileFlanneld(out);
  if (typeErrors) progress(`tsc reported errors but emitted flanneld; measuring it anyway:\n${typeErrors.split('\n').slice(0, 5).join('\n')}`);
  return {
    mode,
    flanneldArgv: (flags = []) => [process.execPath, ...flags, entry],
    cniPlugin: plugin,
    describe: `flanneld and the CNI plugin compiled from the working tree${typeErrors ? ' (tsc reported type errors)' : ''}`,
  };
}

/**
 * What `npm run build` makes of flanneld, into `out` (a directory inside the repository, so the
 * bundle's external packages resolve from its node_modules): tsc, then scripts/bundle-flanneld.mjs.
 * tsc still emits on type errors (e.g. someone's work in progress elsewhere in src/): they are
 * returned, not thrown.
 */
export function compileFlanneld(out: string): { entry: string; typeErrors: string | undefined } {
  rmSync(out, { recursive: true, force: true });
  const entry = join(out, 'cli/flanneld.js');
  const typeErrors = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], 'compiling flanneld (tsc)', () => existsSync(entry));
  // Node stops looking for the package scope at node_modules/, so say that these files are ES modules.
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  run(process.execPath, [join(ROOT, 'scripts/bundle-flanneld.mjs'), out], 'bundling flanneld');
  return { entry, typeErrors };
}
