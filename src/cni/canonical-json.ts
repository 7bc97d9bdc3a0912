/**
 * @module cni/canonical-json
 * JSON the way Go's encoding/json writes a map: compact, object keys sorted at every level, and
 * `<`, `>`, `&`, U+2028, U+2029 escaped. Upstream's saved delegate files are written this way.
 */

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object' && v !== null) {
    // No prototype: a "__proto__" key from the configuration stays a key (on a plain object the
    // assignment below would set the prototype instead, and the key would vanish from the output).
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

const ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v)).replace(/[<>&\u2028\u2029]/g, (c) => ESCAPES[c] ?? c);
}
