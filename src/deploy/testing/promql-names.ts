/**
 * @module deploy/testing/promql-names
 * The metric names a PromQL expression reads, for checking a dashboard against the metrics
 * flanneld exports. Not a PromQL parser: it removes what holds no metric name (strings, label
 * matchers, ranges, grouping clauses, numbers and durations), then keeps every identifier that is not a function call
 * or a keyword. Enough for the expressions a dashboard writes; a name it cannot see would be one
 * hidden inside a string, which PromQL does not read as a metric either.
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);
/** Numbers and durations (0.99, 1e3, 5m, 1h30m), which may hold letters. */
const NUMBER = /(?<![A-Za-z0-9_:])\d[0-9.]*(?:[eE][+-]?\d+)?(?:ms|[smhdwy]|\d)*/g;
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g;

export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^[\]]*\]/g, ' ')
    .replace(GROUPING, ' ')
    .replace(NUMBER, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice(m.index + m[0].length).trimStart();
    if (rest.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** The metric of a Grafana `label_values(metric, label)` variable query, or undefined for another query. */
export function labelValuesMetric(query: string): string | undefined {
  return /^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{[^}]*\})?\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.exec(query)?.[1];
}
