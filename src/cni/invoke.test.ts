import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cniPathDirs } from './invoke.ts';

describe('cni/invoke', () => {
  it('CNI_PATH: the non-empty entries, in order', () => {
    assert.deepEqual(cniPathDirs(''), []);
    assert.deepEqual(cniPathDirs('/opt/cni/bin'), ['/opt/cni/bin']);
    assert.deepEqual(cniPathDirs(':/a::/b/:'), ['/a', '/b/']);
    assert.deepEqual(cniPathDirs('rel:/x'), ['rel', '/x']);
  });
});
