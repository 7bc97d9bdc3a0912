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

  it('toJson as Go\'s json.Marshal: compact, map keys sorted, <, >, & and U+2028/9 escaped', () => {
    assert.equal(renderTemplate('{{ toJson .Values.name }} {{ toJson .Values.map }} {{ toJson .Values.list }}', values), '"flannel" {"a":1,"b":2} [{"operator":"Exists"}]');
    const shell = { cmd: 'a && b > "c" < d \u2028 é' };
    const text = renderTemplate('{{ toJson .Values.cmd }}', shell);
    assert.equal(text, '"a \\u0026\\u0026 b \\u003e \\"c\\" \\u003c d \\u2028 é"');
    assert.equal(JSON.parse(text), shell.cmd);
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

  it('if has V (list ...): V equals one of the strings (Sprig\'s has; a number is no string)', () => {
    const t = (c: string) => renderTemplate(`{{ if ${c} }}T{{ end }}`, values);
    assert.equal(t('has .Values.name (list "vxlan" "flannel")'), 'T');
    assert.equal(t('has .Values.name (list "vxlan" "udp")'), '');
    assert.equal(t('has .Values.name (list "flannel")'), 'T');
    assert.equal(t('has .Values.port (list "8081")'), '');
    assert.equal(t('has .Values.empty (list "" "x")'), 'T');
    for (const c of ['has .Values.missing (list "a")', 'has .Values.name (list .Values.name)', 'has .Values.name (list "a""b")', 'has .Values.name "a"']) {
      assert.throws(() => t(c), TemplateRenderError, c);
    }
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
