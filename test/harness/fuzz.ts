/**
 * Shared pieces of the property-based tests (src/**\/*.fuzz.test.ts).
 *
 * Every property is one `fc.assert(...)` call with `fuzzParams()`: `scripts/fuzz.mjs` counts those
 * calls to spread its budget, sets FUZZ_RUNS (runs per property) and, through FUZZ_COUNT_FILE,
 * collects how many runs each property really made. The normal suite runs FUZZ_RUNS=200 (the
 * default here).
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { FlannelError } from '../../src/errors/index.ts';

/** Runs per property: short in the normal suite, long under `npm run fuzz`. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** One call must finish within this, whatever the input (generous: a loaded 2-core CI box). */
export const CALL_LIMIT_MS = 5000;

const COUNT_FILE = process.env.FUZZ_COUNT_FILE;
const tally = { properties: 0, runs: 0, failed: 0 };
if (COUNT_FILE) {
  process.on('exit', () => {
    if (tally.properties > 0) appendFileSync(COUNT_FILE, `${JSON.stringify({ pid: process.pid, ...tally })}\n`);
  });
}

/** fast-check's own behaviour (throw on failure), after counting the runs for scripts/fuzz.mjs. */
function countingReporter(details: fc.RunDetails<unknown>): void {
  tally.properties++;
  tally.runs += details.numRuns;
  if (details.failed) {
    tally.failed++;
    throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
  }
}

export function fuzzParams(): fc.Parameters<unknown> {
  return COUNT_FILE ? { numRuns: FUZZ_RUNS, reporter: countingReporter } : { numRuns: FUZZ_RUNS };
}

function bounded<T>(what: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - start;
    assert.ok(ms < CALL_LIMIT_MS, `${what} took ${ms.toFixed(0)} ms on one input (limit ${CALL_LIMIT_MS} ms)`);
  }
}

function describeThrown(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack ?? ''}` : `a non-Error value ${String(err)}`;
}

/**
 * Calls `fn`; a FlannelError (of `only`, when given) is an accepted outcome and is returned, any
 * other throw fails the property with what escaped. Also fails a call slower than CALL_LIMIT_MS.
 */
export function onlyFlannelErrors<T>(
  fn: () => T,
  only: ReadonlyArray<abstract new (...args: never[]) => FlannelError> = [FlannelError],
): { ok: true; value: T } | { ok: false; error: FlannelError } {
  return bounded('the call', () => {
    try {
      return { ok: true as const, value: fn() };
    } catch (err) {
      if (err instanceof FlannelError && only.some((c) => err instanceof c)) {
        assert.equal(typeof err.code, 'string');
        assert.ok(err.code.length > 0, 'a FlannelError has a code');
        assert.ok(err.message.length > 0, 'a FlannelError has a message');
        return { ok: false as const, error: err };
      }
      assert.fail(`only typed FlannelErrors may escape, got ${describeThrown(err)}`);
    }
  });
}

/** Calls `fn`, which must not throw at all (decoders that report problems as values). */
export function neverThrows<T>(fn: () => T): T {
  return bounded('the call', () => {
    try {
      return fn();
    } catch (err) {
      return assert.fail(`must not throw, threw ${describeThrown(err)}`);
    }
  });
}

// ---- mutations ------------------------------------------------------------------------------

type Edit =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'duplicate'; at: number; len: number; times: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'swap'; at: number; other: number; len: number };

function editArb(tokens: fc.Arbitrary<string>): fc.Arbitrary<Edit> {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('insert' as const), at, text: tokens }),
    fc.record({ kind: fc.constant('replace' as const), at, text: tokens }),
    fc.record({ kind: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 16 }), times: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('swap' as const), at, other: at, len: fc.integer({ min: 1, max: 8 }) }),
  );
}

function applyEdit(s: string, e: Edit): string {
  const i = Math.min(s.length, Math.floor(e.at * (s.length + 1)));
  switch (e.kind) {
    case 'delete':
      return s.slice(0, i) + s.slice(i + e.len);
    case 'insert':
      return s.slice(0, i) + e.text + s.slice(i);
    case 'replace':
      return s.slice(0, i) + e.text + s.slice(i + e.text.length);
    case 'duplicate':
      return s.slice(0, i) + s.slice(i, i + e.len).repeat(e.times + 1) + s.slice(i + e.len);
    case 'truncate':
      return s.slice(0, i);
    case 'swap': {
      const j = Math.min(s.length, Math.floor(e.other * (s.length + 1)));
      const [a, b] = i <= j ? [i, j] : [j, i];
      if (b < a + e.len) return s;
      return s.slice(0, a) + s.slice(b, b + e.len) + s.slice(a + e.len, b) + s.slice(a, a + e.len) + s.slice(b + e.len);
    }
  }
}

/** Characters and fragments that matter to most of our parsers. */
export const COMMON_TOKENS = fc.oneof(
  fc.constantFrom('', ' ', '\t', '\n', '\r\n', '\0', '"', "'", '\\', '/', '-', '.', ':', '::', ',', '=', '#', '&', '%', '+', '0', '00', '1', '9', '-1', '255', '256', '4294967296', '1e999', 'NaN', 'null', 'true', '[]', '{}', '{', '}', '[', ']', '__proto__', 'constructor', '\u00e9', '\u{1f600}', '\ufeff'),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

/** `base` values, unchanged a fifth of the time, else with 1-6 random edits using `tokens`. */
export function mutated(base: fc.Arbitrary<string>, tokens: fc.Arbitrary<string> = COMMON_TOKENS): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.oneof({ weight: 1, arbitrary: fc.constant([] as Edit[]) }, { weight: 4, arbitrary: fc.array(editArb(tokens), { minLength: 1, maxLength: 6 }) }))
    .map(([s, edits]) => edits.reduce(applyEdit, s));
}

type ByteEdit =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'truncate'; at: number };

const INTERESTING_BYTES = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 16, 20, 24, 32, 33, 64, 0x7f, 0x80, 0xfe, 0xff);
const INTERESTING_U16 = fc.constantFrom(0, 1, 3, 4, 5, 6, 7, 8, 10, 12, 20, 0x7fff, 0x8000, 0xfffc, 0xffff);

function byteEditArb(): fc.Arbitrary<ByteEdit> {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  return fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at, value: fc.oneof(INTERESTING_BYTES, fc.integer({ min: 0, max: 255 })) }),
    fc.record({ kind: fc.constant('u16' as const), at, value: fc.oneof(INTERESTING_U16, fc.integer({ min: 0, max: 0xffff })) }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
  );
}

function applyByteEdit(b: Buffer, e: ByteEdit): Buffer {
  const i = Math.min(b.length, Math.floor(e.at * (b.length + 1)));
  switch (e.kind) {
    case 'set': {
      if (i >= b.length) return b;
      const out = Buffer.from(b);
      out[i] = e.value;
      return out;
    }
    case 'u16': {
      if (i + 2 > b.length) return b;
      const out = Buffer.from(b);
      out.writeUInt16LE(e.value, i);
      return out;
    }
    case 'insert':
      return Buffer.concat([b.subarray(0, i), e.bytes, b.subarray(i)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, i), b.subarray(i + e.len)]);
    case 'truncate':
      return Buffer.from(b.subarray(0, i));
  }
}

/** `base` buffers, unchanged a fifth of the time, else with 1-6 byte-level edits. */
export function mutatedBytes(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(base, fc.oneof({ weight: 1, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 4, arbitrary: fc.array(byteEditArb(), { minLength: 1, maxLength: 6 }) }))
    .map(([b, edits]) => edits.reduce(applyByteEdit, b));
}

// ---- big inputs -----------------------------------------------------------------------------

/** `piece` repeated 1,000 to `max` times: long inputs without generating every character. */
export function repeated(piece: fc.Arbitrary<string>, max = 20_000): fc.Arbitrary<string> {
  return fc.tuple(piece, fc.integer({ min: 1000, max })).map(([s, n]) => s.repeat(n));
}

/** JSON text nested 1,000 to `max` levels deep around `inner` (deeper than JSON.stringify can recurse). */
export function deepJsonText(inner = '1', max = 50_000): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['[{"x":', '}]']), fc.integer({ min: 1000, max }))
    .map(([[open, close], n]) => open.repeat(n) + inner + close.repeat(n));
}
