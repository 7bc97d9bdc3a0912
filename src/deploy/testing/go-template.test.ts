/**
 * The test renderer behaves like Go's text/template + Sprig for the subset the chart uses, and
 * refuses the rest (so the chart cannot grow a construct these tests do not render).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, TemplateRenderError } from './go-template.ts';
import { mergeValues } from './render-chart.ts';

const values = {
  name: 'flannel',
  port: 8081,
  zero: 0,
  empty: '',
  none: [],
  list: [{ operator: 'Exists' }],
  map: { b: 2, a: 1 },
  flag: false,
};

describe('go-template subset', () => {
  it('prints values as Go does: strings raw, numbers and booleans as text', () => {
    assert.equal(renderTemplate('x: {{ .Values.name }} {{ .Values.port }} {{ .Values.flag }}', values), 'x: flannel 8081 false');
  });

  it('toJson', () => {
    assert.equal(renderTemplate('{{ toJson .Values.name }} {{ toJson .Values.map }}', values), '"flannel" {"b":2,"a":1}');
  });

  it('toYaml | nindent: keys sorted, each line indented, after a line break', () => {
    assert.equal(renderTemplate('m:{{ toYaml .Values.map | nindent 2 }}', values), 'm:\n  a: 1\n  b: 2');
    assert.equal(renderTemplate('l:{{ toYaml .Values.list | nindent 2 }}', values), 'l:\n  - operator: Exists');
  });

  it('trims white space (line breaks included) on the side of the dash', () => {
    assert.equal(renderTemplate('a:\n  {{- toJson .Values.port }}', values), 'a:8081');
    assert.equal(renderTemplate('a \n {{- if .Values.name }} \n b {{- end }}\n', values), 'a \n b\n');
    assert.equal(renderTemplate('a {{ if .Values.name -}} \n b{{ end }}', values), 'a b');
  });

  it('if: Go truthiness (false, 0, "", empty list or map are false)', () => {
    const t = (c: string) => renderTemplate(`{{ if ${c} }}T{{ end }}`, values);
    assert.deepEqual(
      ['.Values.name', '.Values.port', '.Values.zero', '.Values.empty', '.Values.none', '.Values.list', '.Values.map', '.Values.flag', '.Values.missing'].map(t),
      ['T', 'T', '', '', '', 'T', 'T', '', ''],
    );
    assert.equal(t('not .Values.flag'), 'T');
    assert.equal(t('not .Values.name'), '');
    assert.equal(t('eq .Values.name "flannel"'), 'T');
    assert.equal(t('eq .Values.name "other"'), '');
  });

  it('nests ifs', () => {
    assert.equal(renderTemplate('{{ if .Values.name }}a{{ if .Values.flag }}b{{ end }}c{{ end }}', values), 'ac');
  });

  it('rejects what it does not implement, and missing values', () => {
    for (const t of ['{{ .Release.Namespace }}', '{{ range .Values.list }}x{{ end }}', '{{ include "x" . }}', '{{ .Values.name | quote }}', '{{ .Values.missing }}', '{{ toJson .Values.missing }}', '{{ .Values.map }}', '{{ if .Values.name }}', '{{ end }}']) {
      assert.throws(() => renderTemplate(t, values), TemplateRenderError, t);
    }
  });
});

describe('values merging (helm -f / --set)', () => {
  it('merges maps key by key, replaces lists and scalars, deletes on null', () => {
    const base = { a: { b: 1, c: [1, 2], d: 'x' }, e: 1 };
    assert.deepEqual(mergeValues(base, { a: { c: [3], d: null }, f: 2 }), { a: { b: 1, c: [3] }, e: 1, f: 2 });
    assert.deepEqual(base, { a: { b: 1, c: [1, 2], d: 'x' }, e: 1 });
  });
});
