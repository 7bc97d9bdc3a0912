/**
 * Renders an error for a terminal: "error: ..." and "hint: ...", the cause chain with --debug.
 */
import { FlannelError, describeError } from '../errors/index.ts';

export function reportError(program: string, err: unknown, debug = process.env.FLANNEL_DEBUG === '1'): void {
  const msg = err instanceof FlannelError ? err.message : describeError(err);
  console.error(`${program}: error: ${msg}`);
  if (err instanceof FlannelError && err.hint) console.error(`${program}: hint: ${err.hint}`);
  if (err instanceof FlannelError && err.cause !== undefined && (!err.explainsCause || debug)) console.error(`${program}: cause: ${describeError(err.cause)}`);
  if (debug && err instanceof Error && err.stack) console.error(err.stack);
}
