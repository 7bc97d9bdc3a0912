/**
 * Runs doctor's gathering on the node it is started on (inside the node's namespace, see
 * doctor-gather.test.ts) and prints the NodeFacts as one JSON object on stdout.
 * argv: the GatherOptions as JSON.
 */
import { gatherFacts, type GatherOptions } from '../../src/doctor/index.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as GatherOptions;
const facts = await gatherFacts(options);
// RegExp options print as {}: give their source. The etcd password is never printed.
const replacer = (key: string, value: unknown): unknown => (value instanceof RegExp ? value.source : key === 'password' ? undefined : value);
process.stdout.write(JSON.stringify(facts, replacer) + '\n');
