/**
 * The template tree: resolving it, and writing it as a Helm template that renders (through the
 * test renderer) to the same objects and, for JSON texts, the same text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { renderTemplate } from '../testing/go-template.ts';
import { emitYaml, interp, jsonText, resolve, templateKit, when, TemplateError, type JsonValue, type Tpl } from './index.ts';
import { formatScalar } from './yaml-scalar.ts';

interface V {
  name: string;
  port: number;
  on: boolean;
  mode: string;
  list: string[];
  labels: Record<string, string>;
}
const v = templateKit<V>();
const base: V = { name: 'web', port: 8080, on: true, mode: 'a', list: ['x', 'y'], labels: { tier: 'node' } };
const isStructured = (p: string) => p === 'list' || p === 'labels';

interface Doc {
  kind: string;
  name: string;
  image: string;
  port: number;
  flag?: boolean;
  labels?: Record<string, string>;
  args: string[];
  items: { name: string; value?: string }[];
  conf: string;
}

const doc: Tpl<Doc> = {
  kind: 'Thing',
  name: v.ref('name'),
  image: interp('repo/', v.ref('name'), ':', v.ref('port')),
  port: v.ref('port'),
  flag: when(v.set('on'), true),
  labels: when(v.set('labels'), v.ref('labels')),
  args: [
    'first',
    v.splice('list'),
    when(v.unset('on'), '--off'),
    when(v.eq('mode', 'b'), interp('--mode=', v.ref('mode'))),
    when(v.oneOf('mode', ['b', 'c']), '--b-or-c'),
  ],
  items: [{ name: 'always' }, when(v.set('on'), { name: 'on', value: v.ref('name') })],
  conf: jsonText({
    Name: when(v.set('name'), v.ref('name')),
    Extra: when([v.eq('mode', 'b'), v.set('port')], { Port: v.ref('port'), List: [1, 2] }),
    Either: when(v.oneOf('mode', ['a', 'c']), v.ref('name')),
    // In a row, with a leading condition in common: one shared `if` for it.
    OnName: when([v.set('on'), v.set('name')], v.ref('name')),
    OnModeB: when([v.set('on'), v.eq('mode', 'b')], true),
    Literal: 'x && y <z>',
    Empty: {},
    Mode: v.ref('mode'),
  }),
};

function roundTrip(values: V): { resolved: unknown; rendered: unknown; text: string } {
  const template = emitYaml(doc as unknown as Record<string, unknown>, { isStructured });
  const text = renderTemplate(template, values);
  return { resolved: resolve(doc, values), rendered: parse(text), text };
}

describe('template tree', () => {
  it('resolves refs, conditions, splices, interpolation and JSON text', () => {
    const r = resolve(doc, base);
    assert.deepEqual(r, {
      kind: 'Thing',
      name: 'web',
      image: 'repo/web:8080',
      port: 8080,
      flag: true,
      labels: { tier: 'node' },
      args: ['first', 'x', 'y'],
      items: [{ name: 'always' }, { name: 'on', value: 'web' }],
      conf: '{\n  "Name": "web",\n  "Either": "web",\n  "OnName": "web",\n  "Literal": "x \\u0026\\u0026 y \\u003cz\\u003e",\n  "Empty": {},\n  "Mode": "a"\n}\n',
    });
  });

  const variants: [string, V][] = [
    ['defaults', base],
    ['everything off', { name: '', port: 0, on: false, mode: 'b', list: [], labels: {} }],
    ['mode b', { ...base, mode: 'b', list: ['only'] }],
    ['mode c', { ...base, mode: 'c' }],
    // Values inside a string from parts go in raw between double quotes (the `helm create` idiom
    // for image: "repo:tag"), so they may hold YAML syntax but not `"` or `\`.
    ['strings that need quoting', { ...base, name: 'yes: no #1', list: ['5000', '- x', 'true', 'a "b"'] }],
    // JSON texts get Go's escapes for values (toJson) and literals alike.
    ['strings Go escapes in JSON', { ...base, name: 'a && b > c < d', mode: 'c' }],
  ];
  for (const [name, values] of variants) {
    it(`renders as a template to the resolved objects: ${name}`, () => {
      const { resolved, rendered } = roundTrip(values);
      assert.deepEqual(rendered, resolved);
    });
  }

  it('lays JSON texts out exactly as JSON.stringify(v, null, 2)', () => {
    for (const [, values] of variants) {
      const { resolved, rendered } = roundTrip(values);
      assert.equal((rendered as Doc).conf, (resolved as Doc).conf);
      JSON.parse((rendered as Doc).conf);
    }
  });

  it('gives entries in a row of a JSON text one `if` for the conditions they share', () => {
    const template = emitYaml(doc as unknown as Record<string, unknown>, { isStructured });
    const conf = template.slice(template.indexOf('conf: |'));
    assert.equal(conf.match(/\{\{- if \.Values\.on \}\}/g)?.length, 1, conf);
    assert.match(conf, /\{\{- if has \.Values\.mode \(list "a" "c"\) \}\}/);
  });

  it('writes the plain object (no template nodes) as YAML that reads back equal', () => {
    const plain = resolve(doc, base);
    assert.deepEqual(parse(emitYaml(plain as unknown as Record<string, unknown>)), plain);
  });

  it('refuses shapes whose rendering would differ from the resolved value', () => {
    const allConditional = { m: { a: when<number>(v.set('on'), 1) } };
    assert.throws(() => emitYaml(allConditional), TemplateError);
    const lastConditional: Tpl<JsonValue> = { a: 1, b: when(v.set('on'), 2) };
    assert.throws(() => emitYaml({ c: jsonText(lastConditional) }), TemplateError);
    const itemStartsConditional = { l: [{ a: when<number>(v.set('on'), 1), b: 2 }] };
    assert.throws(() => emitYaml(itemStartsConditional), TemplateError);
  });

  it('reports a missing value', () => {
    assert.throws(() => resolve({ a: v.ref('name') }, {}), /\.Values\.name is missing/);
  });
});

describe('YAML scalars', () => {
  const cases: [string | number | boolean | null, string][] = [
    ['kube-flannel', 'kube-flannel'],
    ['/opt/cni/bin', '/opt/cni/bin'],
    ['--ip-masq', '--ip-masq'],
    ['5000', '"5000"'],
    ['yes', '"yes"'],
    ['on', '"on"'],
    ['1_000', '"1_000"'],
    ['0.1.0', '"0.1.0"'],
    ['1:20', '"1:20"'],
    ['', '""'],
    ['a: b', '"a: b"'],
    ['10.244.0.0/16', '10.244.0.0/16'],
    [8081, '8081'],
    [false, 'false'],
    [null, 'null'],
  ];
  for (const [value, text] of cases) {
    it(`${JSON.stringify(value)} -> ${text}`, () => {
      assert.equal(formatScalar(value), text);
      assert.equal(parse(`k: ${text}`).k, value);
      assert.equal(parse(`k: ${text}`, { version: '1.1' }).k, value);
    });
  }
});
