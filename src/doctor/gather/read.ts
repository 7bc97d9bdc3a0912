/**
 * @module doctor/gather/read
 * A fact read, or why not: the error's message and, for a FlannelError, its hint.
 */
import { FlannelError, describeError } from '../../errors/index.ts';
import type { Read } from '../facts.ts';

export function errorText(err: unknown): string {
  return err instanceof FlannelError && err.hint ? `${describeError(err)} (${err.hint})` : describeError(err);
}

export async function readFact<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { value: await fn() };
  } catch (err) {
    return { error: errorText(err) };
  }
}

export function valueOf<T>(r: Read<T>): T | undefined {
  return 'value' in r ? r.value : undefined;
}
