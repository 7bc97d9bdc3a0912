/**
 * @module traffic/iptables/plan
 * Pure decisions: compare a saved table with the wanted chain, and build the iptables-restore
 * block (`*table ... COMMIT`, applied with --noflush) that repairs or removes our chain. Only our
 * chain and the jumps into it are ever named, so foreign chains and rules (KUBE-*, DOCKER, ...)
 * are never touched.
 */
import type { ChainRef, ChainSpec } from './rules.ts';
import { targets, type TableDump } from './save-parser.ts';

/** What differs between the saved table and `want`; empty when it matches exactly. */
export function diffChain(want: ChainSpec, dump: TableDump): string[] {
  const where = `${want.table}/${want.chain}`;
  const problems: string[] = [];
  if (!dump.chains.has(want.chain)) {
    problems.push(`${where}: chain missing`);
  } else {
    const have = dump.rules.filter((r) => r.chain === want.chain).map((r) => r.spec);
    const missing = want.rules.filter((r) => !have.includes(r)).length;
    const extra = have.filter((r) => !want.rules.includes(r)).length;
    if (missing > 0 || extra > 0) {
      problems.push(`${where}: ${missing} rule(s) missing, ${extra} unexpected`);
    } else if (have.length !== want.rules.length || have.some((r, i) => r !== want.rules[i])) {
      problems.push(`${where}: rules out of order or duplicated`);
    }
  }
  const jumps = jumpsInto(want, dump);
  const exact = jumps.filter((s) => s === want.jump).length;
  if (exact === 0) problems.push(`${want.table}/${want.parent}: jump to ${want.chain} missing`);
  const extra = jumps.length - Math.min(exact, 1);
  if (extra > 0) problems.push(`${want.table}/${want.parent}: ${extra} extra jump(s) to ${want.chain}`);
  return problems;
}

/**
 * The restore block that makes the table match `want`: `:CHAIN - [0:0]` creates or flushes our
 * chain, its rules follow, stray or duplicate jumps from the parent are deleted and the jump is
 * appended only when absent (an existing jump keeps its position).
 */
export function ensureBlock(want: ChainSpec, dump: TableDump): string {
  const lines = [`*${want.table}`, `:${want.chain} - [0:0]`];
  for (const rule of want.rules) lines.push(`-A ${want.chain} ${rule}`);
  let keptJump = false;
  for (const spec of jumpsInto(want, dump)) {
    if (spec === want.jump && !keptJump) keptJump = true;
    else lines.push(`-D ${want.parent} ${spec}`);
  }
  if (!keptJump) lines.push(`-A ${want.parent} ${want.jump}`);
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/**
 * The restore block that removes our chain and every rule that jumps to it (from any chain of the
 * table); undefined when the chain does not exist.
 */
export function removalBlock(ref: ChainRef, dump: TableDump): string | undefined {
  if (!dump.chains.has(ref.chain)) return undefined;
  const lines = [`*${ref.table}`];
  for (const r of dump.rules) {
    if (r.chain !== ref.chain && targets(r.spec, ref.chain)) lines.push(`-D ${r.chain} ${r.spec}`);
  }
  lines.push(`-F ${ref.chain}`, `-X ${ref.chain}`, 'COMMIT');
  return lines.join('\n') + '\n';
}

function jumpsInto(ref: ChainRef, dump: TableDump): string[] {
  return dump.rules.filter((r) => r.chain === ref.parent && targets(r.spec, ref.chain)).map((r) => r.spec);
}
