/**
 * @module cni/canonical-json
 * JSON the way Go's encoding/json writes a map: compact, object keys sorted at every level (as
 * UTF-8 bytes, i.e. by code point), and `<`, `>`, `&`, U+2028, U+2029 escaped. Upstream's saved
 * delegate files are written this way.
 *
 * Written out by hand rather than by JSON.stringify over a key-sorted copy: a JavaScript object
 * lists integer-like keys ("0", "10") first whatever the insertion order, so `{"": 0, "0": ""}`
 * came out as `{"0":"","":0}`, and a "__proto__" key assigned to a copy set its prototype
 * instead (found by net-conf.fuzz.test.ts). Recursion depth is bounded by the configuration's
 * nesting limit (JSON_DEPTH_LIMIT, checked when stdin is decoded).
 */

/** Code point order (= UTF-8 byte order, Go's string order) on UTF-16 strings. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** Surrogates (the code points above U+FFFF) sort after U+E000-U+FFFF. */
function rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Whether `keys` hold a UTF-16 unit where UTF-16 order and code point order can differ
 * (surrogates, U+E000-U+FFFF). A loop, not a regular expression: the plugin's ADD otherwise
 * uses none, and the engine costs page faults on first use.
 */
function orderMayDiffer(keys: readonly string[]): boolean {
  for (const k of keys) for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) >= 0xd800) return true;
  return false;
}

/** The few keys of a configuration object by insertion; many (hostile input) by the engine's sort. */
const INSERTION_SORT_MAX = 32;

function sortKeys(keys: string[]): void {
  if (orderMayDiffer(keys)) {
    keys.sort(compareCodePoints);
    return;
  }
  if (keys.length > INSERTION_SORT_MAX) {
    keys.sort();
    return;
  }
  // Below U+D800, UTF-16 order (`<`) is code point order, so no compareCodePoints per comparison
  // (those calls made JSC compile it on a JIT thread of its own in every ADD: ~0.9 ms). By hand:
  // the engine's sort is JavaScript it compiles on first use, page faults paid on every ADD.
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

function encode(v: unknown, out: string[]): void {
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      const x: unknown = v[i];
      encode(x === undefined || typeof x === 'function' ? null : x, out);
    }
    out.push(']');
    return;
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    out.push('{');
    let first = true;
    const keys = Object.keys(o);
    sortKeys(keys);
    for (const k of keys) {
      const x = o[k];
      if (x === undefined || typeof x === 'function') continue; // as JSON.stringify
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      encode(x, out);
    }
    out.push('}');
    return;
  }
  out.push(JSON.stringify(v) ?? 'null');
}

const ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** Whether `s` holds a character Go escapes (most configurations hold none). */
function needsEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 60 || c === 62 || c === 38 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

export function canonicalJson(v: unknown): string {
  const out: string[] = [];
  encode(v, out);
  const json = out.join('');
  return needsEscapes(json) ? json.replace(/[<>&\u2028\u2029]/g, (c) => ESCAPES[c] ?? c) : json;
}
