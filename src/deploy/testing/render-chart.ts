/**
 * @module deploy/testing/render-chart
 * `helm template` for the tests: values.yaml merged with overrides the way Helm merges `--set`
 * and `-f` (maps merge key by key, anything else replaces, null deletes), every template
 * rendered, the YAML documents parsed, empty ones dropped.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { renderTemplate } from './go-template.ts';

export type Values = Record<string, unknown>;

const isMap = (x: unknown): x is Values => typeof x === 'object' && x !== null && !Array.isArray(x);

export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = v;
  }
  return out;
}

export function chartValues(chartDir: string, override: Values = {}): Values {
  const defaults: unknown = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
  if (!isMap(defaults)) throw new TypeError(`${chartDir}/values.yaml is not a map`);
  return mergeValues(defaults, override);
}

export interface RenderedChart {
  /** Rendered text by template file name. */
  readonly files: ReadonlyMap<string, string>;
  /** Every non-empty document, in file-name order then document order. */
  readonly objects: readonly unknown[];
}

export function renderChart(chartDir: string, override: Values = {}): RenderedChart {
  const values = chartValues(chartDir, override);
  const dir = join(chartDir, 'templates');
  const files = new Map<string, string>();
  const objects: unknown[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const text = renderTemplate(readFileSync(join(dir, name), 'utf8'), values);
    files.set(name, text);
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new SyntaxError(`templates/${name}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj: unknown = doc.toJS();
      if (obj !== null && obj !== undefined) objects.push(obj);
    }
  }
  return { files, objects };
}
