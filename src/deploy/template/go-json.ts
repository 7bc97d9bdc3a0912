/**
 * @module deploy/template/go-json
 * JSON text as Helm's `toJson` writes strings: Go's encoding/json escapes `<`, `>`, `&`, U+2028
 * and U+2029 (as \u003c, \u003e, \u0026, \u2028, \u2029) so JSON can sit inside HTML. A shell
 * command such as `a && b > f` therefore reaches the ConfigMap as `a \u0026\u0026 b \u003e f`:
 * the same JSON value, other text. The generator writes every JSON text that way, so the
 * manifest's text is the chart's text, whatever the values hold.
 */

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

/** `json` with those characters escaped; they occur only inside strings in JSON text, so this is exact. */
export function goJsonEscape(json: string): string {
  return json.replace(HTML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
