/**
 * @module deploy/template/resolve
 * Fills chart values into a template tree: the plain objects that `helm template` would
 * produce from the emitted chart with the same values.
 */
import { TemplateError } from './template-error.ts';
import { isTplNode, type Tpl, type TplNode } from './tpl.ts';
import { holds, lookupRequired } from './values-access.ts';
import { goJsonEscape } from './go-json.ts';

/** Dropped from its map or list (a `When` whose conditions do not hold). */
const ABSENT: unique symbol = Symbol('absent');
type Resolved = unknown;

function node(n: TplNode, values: unknown): Resolved | typeof ABSENT {
  switch (n.$tpl) {
    case 'ref':
      return lookupRequired(values, n.path);
    case 'when':
      return n.conds.every((c) => holds(c, values)) ? any(n.then, values) : ABSENT;
    case 'interp':
      return n.parts.map((p) => (typeof p === 'string' ? p : String(lookupRequired(values, p.path)))).join('');
    case 'json':
      return `${goJsonEscape(JSON.stringify(any(n.body, values), null, 2))}\n`;
    case 'splice':
      throw new TemplateError(`.Values.${n.ref.path} is spliced outside a list`);
  }
}

function list(items: readonly unknown[], values: unknown): Resolved[] {
  const out: Resolved[] = [];
  for (const item of items) {
    if (isTplNode(item) && item.$tpl === 'splice') {
      const v = lookupRequired(values, item.ref.path);
      if (v === null) continue;
      if (!Array.isArray(v)) throw new TemplateError(`.Values.${item.ref.path} must be a list`);
      out.push(...(v as unknown[]));
      continue;
    }
    const r = any(item, values);
    if (r !== ABSENT) out.push(r);
  }
  return out;
}

function any(x: unknown, values: unknown): Resolved | typeof ABSENT {
  if (isTplNode(x)) return node(x, values);
  if (Array.isArray(x)) return list(x, values);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, Resolved> = {};
    for (const [k, v] of Object.entries(x)) {
      const r = any(v, values);
      if (r !== ABSENT) out[k] = r;
    }
    return out;
  }
  return x;
}

/**
 * The plain value of a template tree under `values`. The cast is the one place the tree's
 * static type meets its runtime walk: `Tpl<T>` only admits nodes that resolve to a `T`.
 */
export function resolve<T>(tpl: Tpl<T>, values: unknown): T {
  const r = any(tpl, values);
  if (r === ABSENT) throw new TemplateError('the whole object is conditional; put the condition on its document');
  return r as T;
}
