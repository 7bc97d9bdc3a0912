#!/usr/bin/env node
// Copies the `lab ui` page (plain HTML, CSS and browser JavaScript, served as they are) next to
// the compiled server in <dist>/lab/ui/public. Nothing is fetched or bundled: tsc compiles the
// TypeScript, and these files need no compiling.
// Usage: node scripts/copy-ui-assets.mjs [<dist>]   (default: dist)
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const dist = resolve(process.argv[2] ?? join(root, 'dist'));
const from = join(root, 'src/lab/ui/public');
const to = join(dist, 'lab/ui/public');
if (!existsSync(join(dist, 'lab/ui'))) {
  console.error(`copy-ui-assets: ${join(dist, 'lab/ui')} is missing: run tsc first (npm run build does both)`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
