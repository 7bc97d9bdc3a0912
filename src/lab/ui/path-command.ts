/**
 * @module lab/ui/path-command
 * `lab path <from-pod> <to-pod> [--json]`: the packet's path between two pods of the lab, hop by
 * hop, each hop with the command that shows its kernel object and what it printed; exit 0 when
 * the path is complete, 1 when it breaks (the last line says where), 2 for command-line mistakes.
 */
import { parseArgs } from 'node:util';
import { GLOBAL, loadLab, needRoot, parsing, targetOf, usageError, type LabIO } from '../command-kit.ts';
import { labInvocation } from '../hints.ts';
import type { LabPod } from '../lab-pods.ts';
import { tracePath } from './path.ts';
import type { PodPath } from './snapshot-types.ts';

const PATH_OPTIONS = { ...GLOBAL, json: { type: 'boolean' } } as const;

const indent = (text: string, by: string): string =>
  text
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');

/**
 * The path as `lab path` prints it: a heading, one block per hop (number, where, step, ok or
 * BREAKS, the summary; then the command and its object, indented), and a last line saying whether
 * it is complete or where it breaks. `lab` is the invocation the doctor hint uses.
 */
export function renderPath(path: PodPath, pods: readonly LabPod[], lab: string): string {
  const end = (name: string): string => {
    const pod = pods.find((p) => p.name === name);
    return pod ? `${name} (${pod.ip} on ${pod.node})` : name;
  };
  const atWidth = Math.max(0, ...path.hops.map((h) => h.at.length));
  const stepWidth = Math.max(0, ...path.hops.map((h) => h.step.length));
  const numWidth = String(path.hops.length).length;
  const blocks = path.hops.map((h, i) => {
    const head = `${String(i + 1).padStart(numWidth + 1)}  ${h.at.padEnd(atWidth)}  ${h.step.padEnd(stepWidth)}  ${(h.ok ? 'ok' : 'BREAKS').padEnd(6)}  ${h.summary}`;
    const pad = ' '.repeat(numWidth + 5);
    return [head, ...(h.command ? [`${pad}$ ${h.command}`] : []), ...(h.object ? [indent(h.object, `${pad}  `)] : [])].join('\n');
  });
  const broken = path.hops.findIndex((h) => !h.ok);
  const hop = path.hops[broken];
  const last =
    path.complete || !hop
      ? `path complete: ${path.from} reaches ${path.to} in ${path.hops.length} hop${path.hops.length === 1 ? '' : 's'}`
      : `path broken at hop ${broken + 1} (${hop.at}, ${hop.step}): ${hop.summary}${/^node\d+$/.test(hop.at) ? `; "${lab} doctor ${hop.at}" checks that node` : ''}`;
  return [`path of a packet from ${end(path.from)} to ${end(path.to)}, as the kernels hold it now:`, '', ...blocks, '', last].join('\n');
}

export async function labPath(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('path', Object.keys(PATH_OPTIONS), () => parseArgs({ args, options: PATH_OPTIONS, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  const [from, to, ...more] = positionals;
  if (from === undefined || to === undefined || more.length) {
    usageError(`lab path takes two pods, the sender then the receiver (e.g. lab path node1-pod1 node2-pod1)${positionals.length ? `, not ${positionals.length} (${positionals.join(' ')})` : ''}`);
  }
  needRoot();
  const { cluster, pods } = loadLab(t, 'path');
  const path = tracePath(cluster, pods, from, to);
  io.out(values.json ? JSON.stringify(path, null, 2) : renderPath(path, pods, labInvocation(t)));
  return path.complete ? 0 : 1;
}
