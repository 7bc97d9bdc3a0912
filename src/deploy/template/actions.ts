/**
 * @module deploy/template/actions
 * The text of the Helm actions the emitters write.
 */
import type { Cond, Interp } from './tpl.ts';

export function condAction(c: Cond): string {
  switch (c.op) {
    case 'set':
      return `if .Values.${c.path}`;
    case 'unset':
      return `if not .Values.${c.path}`;
    case 'eq':
      return `if eq .Values.${c.path} ${JSON.stringify(c.value)}`;
    case 'oneOf':
      // Sprig's `has NEEDLE LIST`: Helm's own way to test membership.
      return `if has .Values.${c.path} (list ${c.values.map((x) => JSON.stringify(x)).join(' ')})`;
  }
}

/** The parts of a string, values as `{{ .Values.p }}`, literal text through `escape`. */
export function interpText(n: Interp, escape: (literal: string) => string): string {
  return n.parts.map((p) => (typeof p === 'string' ? escape(p) : `{{ .Values.${p.path} }}`)).join('');
}

/** The inside of a double-quoted string (YAML's double quotes accept JSON escapes). */
export const quotedBody = (s: string): string => JSON.stringify(s).slice(1, -1);
