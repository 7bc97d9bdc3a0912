/**
 * @module deploy/template/tpl
 * The one source of truth for the deployment: Kubernetes objects written as typed values in
 * which some leaves are *template nodes* — a reference to a chart value, a string built from
 * values, a field or list item present only under a condition, a list spliced from a value, a
 * JSON document embedded as text. Two readers consume the same tree:
 *   - `resolve` fills in the values and yields plain objects (the manifest, the tests' oracle);
 *   - `emitYaml` writes the tree as a Helm template, each node becoming the `{{ ... }}` action
 *     that computes the same thing from `.Values`.
 * Because both come from one tree, the manifest and the chart cannot drift apart.
 *
 * `Tpl<T>` mirrors a Kubernetes type `T` field by field, so an object literal typed as
 * `Tpl<IDaemonSet>` is checked by the compiler like an `IDaemonSet` (misspelt fields and wrong
 * scalar types fail to compile), while any field may hold a template node of the right type.
 */

/** Marks a template node; no Kubernetes object has a `$tpl` field. */
const TAG = '$tpl';

/** `.Values.<path>`: the value at a dotted path of the chart values. */
export interface Ref<T> {
  readonly $tpl: 'ref';
  readonly path: string;
  /** Phantom: the type of the value, for the compiler only. */
  readonly __type?: T;
}

/** A condition of a Helm `if`: `.Values.p` is truthy, falsy, equal to a string, or one of several strings. */
export type Cond =
  | { readonly op: 'set'; readonly path: string }
  | { readonly op: 'unset'; readonly path: string }
  | { readonly op: 'eq'; readonly path: string; readonly value: string }
  | { readonly op: 'oneOf'; readonly path: string; readonly values: readonly string[] };

/** A field or list item present only when every condition holds (nested `if`s in the template). */
export interface When<T> {
  readonly $tpl: 'when';
  readonly conds: readonly Cond[];
  readonly then: Tpl<T>;
}

/** A string made of literal text and scalar values, e.g. `repo:tag`. */
export interface Interp {
  readonly $tpl: 'interp';
  readonly parts: readonly (string | Ref<string | number>)[];
}

/** A JSON document stored as a string (a ConfigMap entry), pretty-printed with two spaces. */
export interface JsonText {
  readonly $tpl: 'json';
  readonly body: Tpl<JsonValue>;
}

/** The items of a list-valued chart value, spliced into a list (nothing when the list is empty). */
export interface Splice<E> {
  readonly $tpl: 'splice';
  readonly ref: Ref<readonly E[]>;
}

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };

export type TplNode = Ref<unknown> | When<unknown> | Interp | JsonText | Splice<unknown>;

type Item<E> = Tpl<E> | Splice<E>;

type Shape<T> = T extends string
  ? T | Interp | JsonText
  : T extends number | boolean | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? readonly Item<E>[]
      : T extends object
        ? { readonly [K in keyof T]: Tpl<T[K]> }
        : never;

/** `T` with template nodes allowed anywhere. `Ref<T>` and `When<T>` sit outside `Shape` so a
 * `Ref<boolean>` fits a `boolean` field (a distributive conditional would split it into `true | false`). */
export type Tpl<T> = Ref<T> | When<T> | Shape<T>;

// ---- typed paths into the chart values ----

/** Every dotted path to a value inside `T` (not into lists). */
export type Paths<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: K | `${K}.${Paths<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

/** The type of the value at a dotted path. */
export type At<T, P extends string> = P extends `${infer H}.${infer R}`
  ? H extends keyof T
    ? At<NonNullable<T[H]>, R>
    : never
  : P extends keyof T
    ? T[P]
    : never;

/** Constructors bound to one values type, so paths are checked against it. */
export interface TemplateKit<V> {
  ref<P extends Paths<V>>(path: P): Ref<At<V, P>>;
  splice<P extends Paths<V>>(path: P): Splice<At<V, P> extends readonly (infer E)[] ? E : never>;
  set(path: Paths<V>): Cond;
  unset(path: Paths<V>): Cond;
  eq(path: Paths<V>, value: string): Cond;
  /** Equal to one of `values` (a "this or that" the AND-only `when` cannot say otherwise). */
  oneOf(path: Paths<V>, values: readonly [string, string, ...string[]]): Cond;
}

export function templateKit<V>(): TemplateKit<V> {
  return {
    ref: (path) => ({ $tpl: 'ref', path }),
    splice: (path) => ({ $tpl: 'splice', ref: { $tpl: 'ref', path } }),
    set: (path) => ({ op: 'set', path }),
    unset: (path) => ({ op: 'unset', path }),
    eq: (path, value) => ({ op: 'eq', path, value }),
    oneOf: (path, values) => ({ op: 'oneOf', path, values }),
  };
}

/** `T` comes from where the node is used (NoInfer), so `then` is checked against the field's type. */
export function when<T>(conds: Cond | readonly Cond[], then: NoInfer<Tpl<T>>): When<T> {
  return { $tpl: 'when', conds: Array.isArray(conds) ? conds : [conds as Cond], then };
}

export function interp(...parts: (string | Ref<string | number>)[]): Interp {
  return { $tpl: 'interp', parts };
}

export function jsonText(body: Tpl<JsonValue>): JsonText {
  return { $tpl: 'json', body };
}

// ---- runtime inspection ----

export function isTplNode(x: unknown): x is TplNode {
  return typeof x === 'object' && x !== null && TAG in x;
}

export function isPlainMap(x: unknown): x is Readonly<Record<string, unknown>> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !isTplNode(x);
}
