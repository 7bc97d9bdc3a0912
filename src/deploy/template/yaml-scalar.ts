/**
 * @module deploy/template/yaml-scalar
 * One YAML scalar as text: plain when every YAML reader takes it back as the same string
 * (YAML 1.2 as here, YAML 1.1 as Go's yaml.v2 under kubectl and Helm), double-quoted otherwise.
 */
import { parse } from 'yaml';

const PLAIN = /^[A-Za-z0-9_/.-][A-Za-z0-9_./:=-]*$/;
/** YAML 1.1 booleans and nulls that YAML 1.2 reads as strings. */
const YAML11_WORDS = /^(y|yes|n|no|on|off|true|false|null|~)$/i;
/** Number-like text (versions such as 0.1.0, YAML 1.1 sexagesimals such as 1:20): quoted so no reader guesses. */
const NUMBER_LIKE = /^[-+]?[0-9][0-9_.:]*$/;

function readsBackAs(text: string, expected: string): boolean {
  try {
    return parse(text) === expected && parse(text, { version: '1.1' }) === expected;
  } catch {
    return false;
  }
}

export function formatString(s: string): string {
  const plain = PLAIN.test(s) && s !== '-' && !YAML11_WORDS.test(s) && !NUMBER_LIKE.test(s) && readsBackAs(s, s);
  return plain ? s : JSON.stringify(s);
}

export function formatScalar(v: string | number | boolean | null): string {
  if (typeof v === 'string') return formatString(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return JSON.stringify(String(v));
  return String(v);
}
