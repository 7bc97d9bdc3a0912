/**
 * @module cni/sys/stdin-prefetch
 * Imported for its effect, before the plugin's other modules (first import of invoke.ts, the
 * entry point's first import): in the compiled plugin it starts reading stdin at once, so the
 * read runs on bun's thread pool while the rest of the program loads and checks its
 * environment. Not without CNI_COMMAND and not for VERSION, which do not read stdin; nothing
 * happens under node, whose read is synchronous. A command that fails before it needs stdin (a
 * bad CNI_CONTAINERID) reports that failure as before: the read is abandoned when it exits.
 */
import { STDIN_LIMIT } from '../limits.ts';
import { sys } from './sys.ts';

const command = process.env.CNI_COMMAND ?? '';
if (command !== '' && command !== 'VERSION') sys().prefetchStdin?.(STDIN_LIMIT);
