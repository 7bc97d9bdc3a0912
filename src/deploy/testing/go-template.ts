/**
 * @module deploy/testing/go-template
 * A stand-in for `helm template`, for tests only (no helm binary can be installed here): renders
 * the small subset of Go templates + Sprig that the chart is allowed to use, and rejects
 * everything else, so a template the chart starts to rely on fails here before it ships.
 *
 *   {{ .Values.a.b }}                          the value, printed as Go prints it
 *   {{ toJson .Values.a }}                     JSON as Go's encoding/json writes it: map keys sorted,
 *                                              <, >, &, U+2028, U+2029 escaped as \u00XX
 *   {{ toYaml .Values.a | nindent N }}         YAML, keys sorted as Helm does, on new indented lines
 *   {{ if C }} ... {{ end }}                   C: .Values.a | not .Values.a | eq .Values.a "text"
 *                                              | has .Values.a (list "x" "y")
 *   {{- ... }} and {{ ... -}}                  trim the white space before / after the action
 *
 * It is written from Go's text/template semantics, independently of the generator it checks:
 * `if` is false for false, 0, "", null and empty lists and maps; a missing value is an error
 * (Helm would print "<no value>", which no manifest wants).
 */
import { stringify } from 'yaml';

type Node = { kind: 'text'; text: string } | { kind: 'print'; expr: string } | { kind: 'if'; cond: string; body: Node[] };

export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
}

const ACTION = /\{\{(- )?\s*(.*?)\s*( -)?\}\}/gs;

interface Token {
  text: string;
  action?: string;
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  let trimNext = false;
  for (const m of src.matchAll(ACTION)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    tokens.push({ text }, { text: '', action: m[2] ?? '' });
    trimNext = Boolean(m[3]);
    last = m.index + m[0].length;
  }
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  tokens.push({ text: tail });
  return tokens;
}

function parse(tokens: readonly Token[]): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  const top = () => stack[stack.length - 1] as Node[];
  for (const t of tokens) {
    if (t.action === undefined) {
      if (t.text) top().push({ kind: 'text', text: t.text });
    } else if (t.action.startsWith('if ')) {
      const node: Node = { kind: 'if', cond: t.action.slice(3).trim(), body: [] };
      top().push(node);
      stack.push(node.body);
    } else if (t.action === 'end') {
      if (stack.length === 1) throw new TemplateRenderError('{{ end }} without {{ if }}');
      stack.pop();
    } else {
      top().push({ kind: 'print', expr: t.action });
    }
  }
  if (stack.length !== 1) throw new TemplateRenderError('{{ if }} without {{ end }}');
  return root;
}

const PATH = /^\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/;

function value(expr: string, values: unknown): unknown {
  const m = PATH.exec(expr);
  if (!m?.[1]) throw new TemplateRenderError(`unsupported expression ${JSON.stringify(expr)}`);
  let cur = values;
  for (const key of m[1].slice(1).split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function defined(expr: string, values: unknown): unknown {
  const v = value(expr, values);
  if (v === undefined) throw new TemplateRenderError(`${expr} is not set`);
  return v;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

const STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * Sprig's `has NEEDLE HAYSTACK`: true when some item of the list equals the needle (Go's
 * reflect.DeepEqual: a number never equals a string). Only a list of string literals is read.
 */
function has(needle: unknown, listArgs: string): boolean {
  const items = listArgs.match(STRING) ?? [];
  if (items.join(' ') !== listArgs.trim()) throw new TemplateRenderError(`unsupported list ${JSON.stringify(listArgs)}: string literals only`);
  return items.some((item) => JSON.parse(item) === needle);
}

function condition(cond: string, values: unknown): boolean {
  const not = /^not (\S+)$/.exec(cond);
  if (not?.[1]) return !truthy(value(not[1], values));
  const eq = /^eq (\S+) ("(?:[^"\\]|\\.)*")$/.exec(cond);
  if (eq?.[1] && eq[2]) return defined(eq[1], values) === JSON.parse(eq[2]);
  const inList = /^has (\S+) \(list ((?:"(?:[^"\\]|\\.)*" ?)+)\)$/.exec(cond);
  if (inList?.[1] && inList[2]) return has(defined(inList[1], values), inList[2]);
  return truthy(value(cond, values));
}

/** Go's json.Marshal (Sprig's toJson): compact, map keys in sorted order, HTML-safe strings. */
function goMarshal(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goMarshal).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${goMarshal(k)}:${goMarshal((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  return JSON.stringify(v);
}

function print(expr: string, values: unknown): string {
  const toJson = /^toJson (\S+)$/.exec(expr);
  if (toJson?.[1]) return goMarshal(defined(toJson[1], values));
  const toYaml = /^toYaml (\S+) \| nindent (\d+)$/.exec(expr);
  if (toYaml?.[1] && toYaml[2]) {
    const pad = ' '.repeat(Number(toYaml[2]));
    const text = stringify(defined(toYaml[1], values), { sortMapEntries: true }).replace(/\n$/, '');
    return `\n${text.split('\n').map((l) => pad + l).join('\n')}`;
  }
  const v = defined(expr, values);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateRenderError(`${expr} is not a scalar; print it with toJson or toYaml`);
}

function render(nodes: readonly Node[], values: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'print') out += print(n.expr, values);
    else if (condition(n.cond, values)) out += render(n.body, values);
  }
  return out;
}

export function renderTemplate(src: string, values: unknown): string {
  return render(parse(tokenize(src)), values);
}
