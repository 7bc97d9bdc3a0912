/**
 * @module backend/backend-config
 * Reads a backend's keys from the `Backend` section of net-conf.json. Keys match
 * case-insensitively, as Go's encoding/json does upstream; unknown keys are warnings; a bad value
 * is a ConfigError naming Backend.<Key>, the value and the rule.
 */
import type { z } from 'zod';
import { ConfigError, shortJson } from '../errors/index.ts';

export { shortJson };

export interface KeyRule<T> {
  readonly schema: z.ZodType<T>;
  /** What a valid value looks like, completing "must be ...". */
  readonly rule: string;
}

export type KeyRules = Record<string, KeyRule<unknown>>;
export type ParsedKeys<R extends KeyRules> = { -readonly [K in keyof R]?: R[K] extends KeyRule<infer T> ? T : never };

const FIX = 'fix the Backend section of the network configuration (net-conf.json or the etcd key <prefix>/config) and restart flanneld';

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `the array ${shortJson(v)}`;
  if (typeof v === 'number' && !Number.isInteger(v)) return `the fraction ${v}`;
  return `${typeof v} ${shortJson(v)}`;
}

export function rule<T>(schema: z.ZodType<T>, text: string): KeyRule<T> {
  return { schema, rule: text };
}

export function parseBackendKeys<R extends KeyRules>(raw: Readonly<Record<string, unknown>>, backendType: string, rules: R): { values: ParsedKeys<R>; warnings: string[] } {
  const values: Record<string, unknown> = {};
  const warnings: string[] = [];
  const known = Object.keys(rules);
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    if (key.toLowerCase() === 'type') continue;
    const canon = known.find((k) => k.toLowerCase() === key.toLowerCase());
    if (!canon) {
      warnings.push(`Backend.${key} is not ${/^[aeio]/.test(backendType) ? 'an' : 'a'} ${backendType} setting and is ignored (${backendType} settings: ${known.length > 0 ? known.join(', ') : 'none'})`);
      continue;
    }
    const twice = seen.get(canon);
    if (twice !== undefined) throw new ConfigError('E_BACKEND_CONFIG', `Backend.${canon} is given twice (as "${twice}" and "${key}")`, { hint: FIX });
    seen.set(canon, key);
    if (canon !== key) warnings.push(`Backend.${key} is read as Backend.${canon}`);
    const spec = rules[canon];
    if (!spec) continue;
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      throw new ConfigError('E_BACKEND_CONFIG', `Backend.${canon} must be ${spec.rule}, got ${describeValue(value)}`, { hint: FIX });
    }
    values[canon] = parsed.data;
  }
  return { values: values as ParsedKeys<R>, warnings };
}
