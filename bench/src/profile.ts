/**
 * Summaries of V8 CPU profiles (node --cpu-prof): self time per function, the biggest first.
 * Usage as a tool: node --import tsx bench/src/profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  file: string;
  /** Inclusive time (the function and what it called), each sample counted once per function on its stack. */
  inclusive: HotSpot[];
  totalMs: number;
  /** Non-idle sampled time (GC included). */
  busyMs: number;
  gcMs: number;
  top: HotSpot[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const agg = new Map<string, { fn: string; where: string; us: number }>();
  let busy = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    if (cf.functionName === '(idle)' || cf.functionName === '(root)') continue;
    if (cf.functionName === '(garbage collector)') gc += us;
    busy += us;
    const url = cf.url.startsWith('file://') ? relative(ROOT, fileURLToPath(cf.url)) : cf.url || '(native)';
    const where = `${url}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName}@${where}`;
    const a = agg.get(key) ?? { fn: cf.functionName || '(anonymous)', where, us: 0 };
    a.us += us;
    agg.set(key, a);
  }
  const sorted = [...agg.values()].sort((a, b) => b.us - a.us).slice(0, top);
  // Inclusive: walk each sample's stack once.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, { fn: string; where: string; us: number }>();
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const leaf = byId.get(id)?.callFrame.functionName;
    if (leaf === '(idle)' || leaf === '(root)') return;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)?.callFrame;
      if (!cf || cf.functionName === '(root)') continue;
      const url = cf.url.startsWith('file://') ? relative(ROOT, fileURLToPath(cf.url)) : cf.url || '(native)';
      const where = `${url}:${cf.lineNumber + 1}`;
      const key = `${cf.functionName}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const a = incl.get(key) ?? { fn: cf.functionName || '(anonymous)', where, us: 0 };
      a.us += us;
      incl.set(key, a);
    }
  });
  const inclusive = [...incl.values()]
    .filter((a) => !a.where.startsWith('node:') && a.where !== '(native):0')
    .sort((a, b) => b.us - a.us)
    .slice(0, top);
  return {
    file,
    inclusive: inclusive.map((a) => ({ fn: a.fn, where: a.where, selfMs: Math.round(a.us / 100) / 10, selfPct: busy > 0 ? Math.round((a.us / busy) * 1000) / 10 : 0 })),
    totalMs: Math.round((p.endTime - p.startTime) / 1000),
    busyMs: Math.round(busy / 1000),
    gcMs: Math.round(gc / 1000),
    top: sorted.map((a) => ({ fn: a.fn, where: a.where, selfMs: Math.round(a.us / 100) / 10, selfPct: busy > 0 ? Math.round((a.us / busy) * 1000) / 10 : 0 })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`${s.file}: ${s.totalMs} ms profiled, ${s.busyMs} ms busy (GC ${s.gcMs} ms)`];
  for (const h of s.top) lines.push(`  ${String(h.selfMs).padStart(8)} ms ${String(h.selfPct).padStart(5)}%  ${h.fn}  ${h.where}`);
  lines.push('inclusive (our code and packages):');
  for (const h of s.inclusive) lines.push(`  ${String(h.selfMs).padStart(8)} ms ${String(h.selfPct).padStart(5)}%  ${h.fn}  ${h.where}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/src/profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summarizeProfile(file, Number(top ?? 25)))}\n`);
}
