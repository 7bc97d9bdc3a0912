// The test files under the given roots whose names end in `suffix`, relative to the checkout,
// sorted, kept only when they contain one of `filters` (all when none). Shared by run-tests and fuzz.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

export function findTestFiles(roots, suffix, filters = []) {
  const walk = (dir) => {
    const out = [];
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) out.push(...walk(p));
      else if (name.endsWith(suffix)) out.push(relative(root, p));
    }
    return out;
  };
  return roots
    .flatMap((r) => walk(join(root, r)))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
}
