#!/usr/bin/env node
// Bundles flanneld (tsc's <dist>/cli/flanneld.js and everything it imports from dist/ and zod and
// pino) into <dist>/cli/flanneld.js plus lazily loaded chunks next to it, with bun's bundler.
//
// Why: flanneld is long-running and memory is what it costs a node. Loaded as ~150 separate
// modules it keeps every file's full source (comments and all) in the heap and a module record
// per file; bundled and stripped it needs 3-4 MiB less RSS idle and with 5000 peers (README.md,
// "flanneld memory"). Dynamic imports stay chunks, so the Kubernetes client is still loaded only
// with --kube-subnet-mgr and etcd's only without it.
//
// Left outside the bundle: packages that find files of their own at run time (etcd3 reads its
// .proto files, netlink its native addon) and the Kubernetes client (big, loaded on demand).
// Identifiers are kept, so stack traces name the functions; run node with --enable-source-maps
// to see file:line of the compiled modules in dist/ (a linked source map is written).
// Usage: node scripts/bundle-flanneld.mjs [<dist>]   (default: dist)
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bunBuild } from './find-bun.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const dist = resolve(process.argv[2] ?? join(root, 'dist'));
const cli = join(dist, 'cli');
const entry = join(cli, 'flanneld.js');
const EXTERNAL = ['etcd3', 'netlink', '@kubernetes/client-node'];
const CHUNK_PREFIX = 'flanneld-chunk-';

if (!existsSync(entry)) {
  console.error(`bundle-flanneld: ${entry} is missing: run tsc first (npm run build does both)`);
  process.exit(1);
}
// Inside dist, so the files can be renamed into place (same file system).
const out = mkdtempSync(join(dist, '.bundle-'));
try {
  const built = bunBuild(root, 'bundle-flanneld', [
    '--target=node',
    '--format=esm',
    '--splitting',
    `--chunk-naming=${CHUNK_PREFIX}[hash].[ext]`,
    '--minify-syntax',
    '--minify-whitespace',
    '--sourcemap=linked',
    ...EXTERNAL.flatMap((p) => ['--external', p]),
    entry,
    '--outdir',
    out,
  ]);
  if (!built) process.exitCode = 1;
  else {
    // Chunks of an earlier bundle would only pile up.
    for (const f of readdirSync(cli)) if (f.startsWith(CHUNK_PREFIX)) rmSync(join(cli, f));
    for (const f of readdirSync(out)) renameSync(join(out, f), join(cli, f));
    console.log(`bundle-flanneld: ${entry} (+ ${readdirSync(cli).filter((f) => f.startsWith(CHUNK_PREFIX) && f.endsWith('.js')).length} chunks)`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
