/**
 * @module deploy/template/json-emit
 * A JSON document inside a YAML literal block, laid out exactly like `JSON.stringify(v, null, 2)`
 * so that the rendered chart and the resolved manifest hold the same text. Conditional keys
 * become `{{- if }}` lines (entries in a row share the `if`s of the conditions they start with);
 * each entry but the last carries its comma, so the last entry of every object or array must be
 * unconditional (upstream's chart uses the same trick). Literal strings are written with Go's
 * escapes, as `toJson` writes the values (go-json.ts); the values inside a string from parts are
 * printed raw, so they may not hold `"`, `\`, `<`, `>` or `&` there.
 */
import { TemplateError } from './template-error.ts';
import { isPlainMap, isTplNode } from './tpl.ts';
import { type LineWriter, pad } from './line-writer.ts';
import { condAction, interpText, quotedBody } from './actions.ts';
import { goJsonEscape } from './go-json.ts';

const literal = (v: unknown): string => goJsonEscape(JSON.stringify(v));

function value(out: LineWriter, prefix: string, v: unknown, indent: number, comma: string): void {
  if (isTplNode(v)) {
    switch (v.$tpl) {
      case 'ref':
        return out.line(`${prefix}{{ toJson .Values.${v.path} }}${comma}`);
      case 'interp':
        return out.line(`${prefix}"${interpText(v, (s) => goJsonEscape(quotedBody(s)))}"${comma}`);
      default:
        throw new TemplateError(`a ${v.$tpl} node cannot stand as a JSON value here`);
    }
  }
  const isList = Array.isArray(v);
  if (isList || isPlainMap(v)) {
    const entries: [string | undefined, unknown][] = isList ? v.map((x) => [undefined, x]) : Object.entries(v);
    const [open, close] = isList ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) return out.line(`${prefix}${open}${close}${comma}`);
    const last = entries[entries.length - 1]?.[1];
    if (isTplNode(last) && last.$tpl === 'when') throw new TemplateError('the last entry of a JSON object or array must be unconditional');
    out.line(`${prefix}${open}`);
    // The `if`s still open: entries in a row that share leading conditions share their `if`s.
    const opened: string[] = [];
    const keepOpen = (actions: readonly string[]) => {
      let same = 0;
      while (same < opened.length && same < actions.length && opened[same] === actions[same]) same++;
      while (opened.length > same) {
        opened.pop();
        out.action('end', indent + 2);
      }
      for (const a of actions.slice(same)) {
        opened.push(a);
        out.action(a, indent + 2);
      }
    };
    entries.forEach(([key, item], i) => {
      const c = i < entries.length - 1 ? ',' : '';
      const keyText = key === undefined ? '' : `${literal(key)}: `;
      const start = `${pad(indent + 2)}${keyText}`;
      const when = isTplNode(item) && item.$tpl === 'when' ? item : undefined;
      keepOpen(when ? when.conds.map(condAction) : []);
      value(out, start, when ? when.then : item, indent + 2, c);
    });
    return out.line(`${pad(indent)}${close}${comma}`);
  }
  return out.line(`${prefix}${literal(v)}${comma}`);
}

/** Writes the document's lines at `indent`; the text ends with one line break, as `|` keeps it. */
export function emitJsonText(out: LineWriter, body: unknown, indent: number): void {
  value(out, pad(indent), body, indent, '');
}
