import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { dirName, joinPath } from './path.ts';

describe('cni/sys/path', () => {
  it('joins like path.posix.join for the plugin\'s inputs', () => {
    for (const [d, n] of [['/var/lib/cni/flannel', 'abc'], ['/var/lib/cni/flannel/', 'abc'], ['/', 'x'], ['rel/dir', 'f']] as const) {
      assert.equal(joinPath(d, n), posix.join(d, n));
    }
    assert.equal(joinPath('', 'f'), 'f');
  });

  it('takes the directory like path.posix.dirname', () => {
    for (const p of ['/var/lib/cni/flannel/abc', '/var/lib/cni/flannel/', '/x', '/', 'f', 'a/b', '/a//b']) {
      assert.equal(dirName(p), posix.dirname(p), p);
    }
  });
});
