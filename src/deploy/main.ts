/**
 * @module deploy/main
 * `npm run generate:deploy`: writes deploy/kube-flannel.yml and deploy/chart/kube-flannel/.
 * `npm run generate:deploy -- --check` writes nothing and exits 1 if a file is out of date.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployFiles, packageVersion } from './files.ts';

const root = new URL('../../', import.meta.url);
const check = process.argv.includes('--check');
const stale: string[] = [];

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

for (const [rel, text] of deployFiles(packageVersion(root))) {
  const path = fileURLToPath(new URL(rel, root));
  if (read(path) === text) continue;
  stale.push(rel);
  if (!check) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}

if (check && stale.length > 0) {
  process.stderr.write(`out of date (run "npm run generate:deploy"):\n${stale.map((f) => `  ${f}\n`).join('')}`);
  process.exitCode = 1;
} else {
  process.stdout.write(stale.length === 0 ? 'deploy/ is up to date\n' : `${check ? 'stale' : 'wrote'}: ${stale.join(', ')}\n`);
}
