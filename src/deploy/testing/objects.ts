/**
 * @module deploy/testing/objects
 * Reading generated YAML back as objects, and picking objects out, for tests.
 */
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { validateObject } from './validate.ts';

export interface ObjectRef {
  kind: string;
  name: string;
}

/** Every non-empty document of a YAML stream. */
export function parseDocuments(text: string, source = 'YAML'): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new SyntaxError(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const obj: unknown = doc.toJS();
    if (obj !== null && obj !== undefined) out.push(obj);
  }
  return out;
}

export function refOf(obj: unknown): ObjectRef {
  const o = obj as { kind?: unknown; metadata?: { name?: unknown } };
  return { kind: String(o.kind), name: String(o.metadata?.name) };
}

/** Objects in a stable order (kind, then name), for comparing sets of objects. */
export function sortObjects(objects: readonly unknown[]): unknown[] {
  const key = (o: unknown) => `${refOf(o).kind}/${refOf(o).name}`;
  return [...objects].sort((a, b) => key(a).localeCompare(key(b)));
}

/**
 * The one object of a kind (and name), schema-validated and then typed as its Kubernetes
 * interface: validation is what makes the cast sound.
 */
export function findObject<T>(objects: readonly unknown[], kind: string, name?: string): T {
  const found = objects.filter((o) => refOf(o).kind === kind && (name === undefined || refOf(o).name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  validateObject(found[0]);
  return found[0] as T;
}
