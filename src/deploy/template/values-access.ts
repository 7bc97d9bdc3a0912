/**
 * @module deploy/template/values-access
 * Reading chart values the way a Helm template does: dotted paths, and Go's `if` truthiness
 * (false, 0, "", null and empty lists and maps are false).
 */
import { TemplateError } from './template-error.ts';
import type { Cond } from './tpl.ts';

/** The value at a dotted path, or undefined when any step is missing. */
export function lookup(values: unknown, path: string): unknown {
  let cur: unknown = values;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Like `lookup`, but a missing value is an error: every value a template reads has a default. */
export function lookupRequired(values: unknown, path: string): unknown {
  const v = lookup(values, path);
  if (v === undefined) throw new TemplateError(`chart value .Values.${path} is missing`);
  return v;
}

export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

export function holds(cond: Cond, values: unknown): boolean {
  const v = lookup(values, cond.path);
  switch (cond.op) {
    case 'set':
      return truthy(v);
    case 'unset':
      return !truthy(v);
    case 'eq':
      return v === cond.value;
    case 'oneOf':
      return typeof v === 'string' && cond.values.includes(v);
  }
}
