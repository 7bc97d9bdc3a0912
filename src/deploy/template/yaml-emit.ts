/**
 * @module deploy/template/yaml-emit
 * Writes a template tree (or a plain object, which is a tree without template nodes) as block
 * YAML. Template nodes become Helm actions, always in the same few forms, which are all the
 * chart uses and all the test renderer implements:
 *   scalar value      `key: {{ toJson .Values.p }}`
 *   list or map value `key:` + `{{- toYaml .Values.p | nindent N }}`
 *   string from parts `key: "{{ .Values.a }}:{{ .Values.b }}"` (values may not hold `"` or `\`)
 *   conditional       `{{- if .Values.p }}` / `{{- if not .Values.p }}` / `{{- if eq .Values.p "x" }}` /
 *                     `{{- if has .Values.p (list "x" "y") }}` ... `{{- end }}`
 * Every action line starts with `{{-`, which eats the line break before it, so the rendered text
 * has the same layout as the plain manifest.
 */
import { emitJsonText } from './json-emit.ts';
import { formatScalar, formatString } from './yaml-scalar.ts';
import { TemplateError } from './template-error.ts';
import { isPlainMap, isTplNode, type TplNode } from './tpl.ts';
import { condAction, interpText, quotedBody } from './actions.ts';
import { type LineWriter, createLineWriter, pad } from './line-writer.ts';

export interface YamlEmitOptions {
  /** Whether the chart value at `path` is a list or map (written with toYaml) rather than a scalar. */
  readonly isStructured?: (path: string) => boolean;
  /** Comment lines to write above the map entry at a dotted path (values.yaml). */
  readonly comment?: (path: string) => readonly string[] | undefined;
}

/** Conditional entries cannot come first in a list item (it would lose its `- `) nor fill a whole map. */
function checkEntries(entries: readonly unknown[], where: string): void {
  const conditional = (v: unknown) => isTplNode(v) && (v.$tpl === 'when' || v.$tpl === 'splice');
  if (entries.length > 0 && entries.every(conditional)) {
    throw new TemplateError(`${where}: every entry is conditional; an empty result would read back as null`);
  }
}

class YamlWriter {
  constructor(
    private readonly out: LineWriter,
    private readonly options: YamlEmitOptions,
  ) {}

  entries(map: Readonly<Record<string, unknown>>, indent: number, path: string): void {
    checkEntries(Object.values(map), path || 'document');
    for (const [key, value] of Object.entries(map)) this.entry(key, value, indent, path ? `${path}.${key}` : key);
  }

  private entry(key: string, value: unknown, indent: number, path: string): void {
    if (isTplNode(value) && value.$tpl === 'when') {
      this.out.conditional(value.conds.map(condAction), indent, () => this.entry(key, value.then, indent, path));
      return;
    }
    for (const line of this.options.comment?.(path) ?? []) this.out.line(`${pad(indent)}# ${line}`.trimEnd());
    this.value(`${pad(indent)}${formatString(key)}:`, value, indent, path);
  }

  /** `prefix` is the start of the line (`key:` or `-`); nested content goes at indent + 2. */
  private value(prefix: string, value: unknown, indent: number, path: string): void {
    if (isTplNode(value)) return this.node(prefix, value, indent, path);
    if (Array.isArray(value)) {
      if (value.length === 0) return this.out.line(`${prefix} []`);
      checkEntries(value, path);
      this.out.line(prefix);
      for (const item of value) this.item(item, indent + 2, path);
      return;
    }
    if (isPlainMap(value)) {
      if (Object.keys(value).length === 0) return this.out.line(`${prefix} {}`);
      this.out.line(prefix);
      return this.entries(value, indent + 2, path);
    }
    if (typeof value === 'string' && value.includes('\n')) return this.block(prefix, value, indent + 2);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) {
      return this.out.line(`${prefix} ${formatScalar(value)}`);
    }
    throw new TemplateError(`${path}: cannot write ${typeof value} as YAML`);
  }

  private node(prefix: string, n: TplNode, indent: number, path: string): void {
    switch (n.$tpl) {
      case 'ref':
        if (this.options.isStructured?.(n.path)) {
          this.out.line(prefix);
          return this.out.action(`toYaml .Values.${n.path} | nindent ${indent + 2}`, indent + 2);
        }
        return this.out.line(`${prefix} {{ toJson .Values.${n.path} }}`);
      case 'interp':
        return this.out.line(`${prefix} "${interpText(n, quotedBody)}"`);
      case 'json':
        this.out.line(`${prefix} |`);
        return emitJsonText(this.out, n.body, indent + 2);
      case 'when':
        return this.out.conditional(n.conds.map(condAction), indent, () => this.value(prefix, n.then, indent, path));
      case 'splice':
        throw new TemplateError(`${path}: .Values.${n.ref.path} is spliced outside a list`);
    }
  }

  private item(item: unknown, indent: number, path: string): void {
    if (isTplNode(item) && item.$tpl === 'when') {
      this.out.conditional(item.conds.map(condAction), indent, () => this.item(item.then, indent, path));
      return;
    }
    if (isTplNode(item) && item.$tpl === 'splice') {
      const p = item.ref.path;
      this.out.conditional([`if .Values.${p}`], indent, () => this.out.action(`toYaml .Values.${p} | nindent ${indent}`, indent));
      return;
    }
    if (isPlainMap(item) && Object.keys(item).length > 0) {
      const first = Object.values(item)[0];
      if (isTplNode(first) && first.$tpl === 'when') throw new TemplateError(`${path}: a list item cannot start with a conditional field`);
      const start = this.out.mark();
      this.entries(item, indent + 2, path);
      this.out.rewriteStart(start, pad(indent + 2), `${pad(indent)}- `);
      return;
    }
    if (Array.isArray(item)) throw new TemplateError(`${path}: lists of lists are not supported`);
    this.value(`${pad(indent)}-`, item, indent, path);
  }

  /** A multi-line string as a literal block; the chomping indicator keeps its final line breaks exact. */
  private block(prefix: string, s: string, indent: number): void {
    if (/^[ \t]/.test(s)) throw new TemplateError('a multi-line string may not start with a space');
    const trailing = /\n*$/.exec(s)?.[0].length ?? 0;
    const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
    const body = trailing > 0 ? s.slice(0, -1) : s;
    this.out.line(`${prefix} |${chomp}`);
    for (const line of body.split('\n')) this.out.line(line === '' ? '' : `${pad(indent)}${line}`);
  }
}

/** One YAML document (a map) as text, ending with a line break. */
export function emitYaml(doc: Readonly<Record<string, unknown>>, options: YamlEmitOptions = {}): string {
  const out = createLineWriter();
  new YamlWriter(out, options).entries(doc, 0, '');
  return out.text();
}
