/**
 * @module deploy/template/line-writer
 * Collects output lines; Helm actions get their own lines, each opening with `{{-` so that the
 * line break before them disappears when the template is rendered.
 */
import { TemplateError } from './template-error.ts';

export const pad = (n: number): string => ' '.repeat(n);

export interface LineWriter {
  line(text: string): void;
  /** A line holding only `{{- <action> }}`. */
  action(action: string, indent: number): void;
  /** `{{- if ... }}` lines (one per condition, nested), the body, then the `{{- end }}` lines. */
  conditional(ifActions: readonly string[], indent: number, body: () => void): void;
  mark(): number;
  /** Replaces `expected` at the start of the first line written since `mark` (a list item's `- `). */
  rewriteStart(mark: number, expected: string, replacement: string): void;
  text(): string;
}

export function createLineWriter(): LineWriter {
  const lines: string[] = [];
  const isAction = (l: string) => l.trimStart().startsWith('{{-');
  const w: LineWriter = {
    line: (text) => void lines.push(text),
    action: (action, indent) => void lines.push(`${pad(indent)}{{- ${action} }}`),
    conditional(ifActions, indent, body) {
      for (const a of ifActions) w.action(a, indent);
      body();
      for (let i = 0; i < ifActions.length; i++) w.action('end', indent);
    },
    mark: () => lines.length,
    rewriteStart(mark, expected, replacement) {
      const first = lines[mark];
      if (first === undefined || isAction(first) || !first.startsWith(expected)) {
        throw new TemplateError(`a list item must open with a plain field, got ${JSON.stringify(first)}`);
      }
      lines[mark] = replacement + first.slice(expected.length);
    },
    text: () => `${lines.join('\n')}\n`,
  };
  return w;
}
