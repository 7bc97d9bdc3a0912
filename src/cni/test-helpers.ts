/** Shared assertions for the plugin's unit tests. */
import assert from 'node:assert/strict';
import { CniError } from './cni-error.ts';

/** Asserts `fn` throws a CniError with this code and message (exact string or pattern). */
export function throwsCni(fn: () => unknown, code: number, msg: string | RegExp, details?: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    assert.equal(err.cniCode, code, `code for "${err.message}"`);
    if (typeof msg === 'string') assert.equal(err.message, msg);
    else assert.match(err.message, msg);
    if (typeof details === 'string') assert.equal(err.details, details);
    else if (details) assert.match(err.details, details);
    return true;
  });
}
