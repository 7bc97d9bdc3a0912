/**
 * The plugin starts once per pod: its import graph must stay small. src/cni (and the entry point)
 * may reach only ip, subnetenv and errors inside the project, and no package but node: builtins
 * (zod/mini alone cost ~2.9 ms per ADD in the compiled binary; see net-conf.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(dirname(new URL(import.meta.url).pathname), '..');
const ALLOWED_DIRS = ['cni', 'ip', 'subnetenv', 'errors', 'cli'];
const ALLOWED_PACKAGES: string[] = [];

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)].map((m) => (m[1] ?? m[2]) as string);
}

describe('plugin import graph', () => {
  it('reaches no daemon, backend, kernel, subnet, log or heavy package', () => {
    const seen = new Set<string>();
    const queue = [join(src, 'cli', 'flannel-cni.ts')];
    const bad: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('node:')) continue;
        if (!spec.startsWith('.')) {
          if (!ALLOWED_PACKAGES.includes(spec)) bad.push(`${relative(src, file)} imports package ${spec}`);
          continue;
        }
        const target = resolve(dirname(file), spec);
        const top = relative(src, target).split('/')[0] ?? '';
        if (!ALLOWED_DIRS.includes(top)) bad.push(`${relative(src, file)} imports ${relative(src, target)}`);
        else queue.push(target);
      }
    }
    assert.deepEqual(bad, []);
    assert.ok(seen.size > 10, `walked ${seen.size} files`);
  });
});
