/**
 * @module lab/ui/layout
 * The geometry of the lab's picture (svg.ts draws it): ELK (elkjs, its "rectpacking" algorithm)
 * places the node boxes in rows, in the lab's order; the rest is plain geometry: the arcs of the
 * node-to-node links under a row, curves between boxes of a grid, text width estimates.
 */
import type { ELK, ElkNode } from 'elkjs/lib/elk-api.js';

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Box extends Size {
  readonly x: number;
  readonly y: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

let engine: Promise<ELK> | undefined;

/**
 * One ELK for the process, loaded on first use (the bundle is 1.6 MB: `lab status` without --svg
 * never loads it). elk.bundled.js is CommonJS: its module.exports is the constructor, and it sets
 * `.default` on itself, which is the one spelling both Node's ESM loader and TypeScript's NodeNext
 * typing of a CommonJS default export agree on.
 */
function elk(): Promise<ELK> {
  engine ??= import('elkjs/lib/elk.bundled.js').then((m) => new m.default.default());
  return engine;
}

export interface GridOptions {
  /** Boxes per row at most. */
  readonly columns: number;
  readonly gapX: number;
  readonly gapY: number;
}

/**
 * Places `boxes` row by row, left to right in their order, at most `columns` a row; a row is as
 * high as its highest box. Positions start at (0, 0).
 */
export async function gridLayout(boxes: readonly Size[], o: GridOptions): Promise<Box[]> {
  if (boxes.length === 0) return [];
  const widest = Math.max(...boxes.map((b) => b.width));
  const columns = Math.max(1, Math.min(o.columns, boxes.length));
  const graph: ElkNode = {
    id: 'grid',
    layoutOptions: {
      'elk.algorithm': 'rectpacking',
      // SIMPLE fills rows in order; the default (COMPACTION) stacks short boxes into a row's gaps.
      'elk.rectpacking.packing.strategy': 'SIMPLE',
      // Room for `columns` boxes and half a gap more (ELK wraps a row that fills the width exactly), never for one box more.
      'elk.rectpacking.widthApproximation.strategy': 'TARGET_WIDTH',
      'elk.rectpacking.widthApproximation.targetWidth': String(columns * widest + (columns - 0.5) * o.gapX),
      'elk.spacing.nodeNode': String(o.gapX),
      'elk.padding': '[top=0,left=0,bottom=0,right=0]',
    },
    children: boxes.map((b, i) => ({ id: `b${i}`, width: b.width, height: b.height, ...(i > 0 && i % columns === 0 ? { layoutOptions: { 'elk.rectpacking.inNewRow': 'true' } } : {}) })),
  };
  const laid = await (await elk()).layout(graph);
  const placed = new Map((laid.children ?? []).map((c) => [c.id, c]));
  const raw = boxes.map((b, i) => {
    const c = placed.get(`b${i}`);
    return { x: c?.x ?? 0, y: c?.y ?? 0, width: b.width, height: b.height };
  });
  return spaceRows(raw, o.gapY);
}

/** ELK spaces rows by nodeNode spacing: re-stack them with the asked vertical gap, keeping its rows. */
function spaceRows(boxes: readonly Box[], gapY: number): Box[] {
  const rowTops = [...new Set(boxes.map((b) => b.y))].sort((a, b) => a - b);
  const top = new Map<number, number>();
  let y = 0;
  for (const t of rowTops) {
    top.set(t, y);
    y += Math.max(...boxes.filter((b) => b.y === t).map((b) => b.height)) + gapY;
  }
  return boxes.map((b) => ({ ...b, y: top.get(b.y) ?? b.y }));
}

/** The boxes grouped by row (same top), rows top to bottom, boxes left to right. */
export function rowsOf<T extends Box>(boxes: readonly T[]): T[][] {
  const rows = new Map<number, T[]>();
  for (const b of boxes) rows.set(b.y, [...(rows.get(b.y) ?? []), b]);
  return [...rows.entries()].sort(([a], [b]) => a - b).map(([, r]) => [...r].sort((a, b) => a.x - b.x));
}

export function overlap(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** How many boxes a row holds so a grid of `count` boxes of `size` is about `aspect` times as wide as high. */
export function columnsFor(count: number, size: Size, aspect: number): number {
  return Math.max(1, Math.min(count, Math.round(Math.sqrt((aspect * count * size.height) / size.width))));
}

/**
 * The arc under a row from `a` to `b` (both on the row's bottom line `a.y`), whose lowest point is
 * `depth` below it, as an SVG path; a cubic with both handles straight down 4/3 deep peaks at 3/4 of
 * the handles' depth.
 */
export function arcPath(a: Point, b: Point, depth: number): string {
  const c = a.y + (depth * 4) / 3;
  return `M${n(a.x)},${n(a.y)} C${n(a.x)},${n(c)} ${n(b.x)},${n(c)} ${n(b.x)},${n(b.y)}`;
}

/** Where the segment from the centre of `box` towards `to` leaves the box. */
export function borderPoint(box: Box, to: Point): Point {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const dx = to.x - cx;
  const dy = to.y - cy;
  if (dx === 0 && dy === 0) return { x: cx, y: cy };
  const s = Math.min(dx === 0 ? Infinity : box.width / 2 / Math.abs(dx), dy === 0 ? Infinity : box.height / 2 / Math.abs(dy));
  return { x: cx + dx * s, y: cy + dy * s };
}

/**
 * A curve from box `a` to box `b` bowed sideways by a fifth of their distance, so links between
 * boxes of one row or column do not run along each other; with the point in its middle.
 */
export function bowedLink(a: Box, b: Box): { path: string; middle: Point } {
  const ca = { x: a.x + a.width / 2, y: a.y + a.height / 2 };
  const cb = { x: b.x + b.width / 2, y: b.y + b.height / 2 };
  const dx = cb.x - ca.x;
  const dy = cb.y - ca.y;
  const bow = 0.2;
  const ctrl = { x: (ca.x + cb.x) / 2 - dy * bow, y: (ca.y + cb.y) / 2 + dx * bow };
  const p = borderPoint(a, ctrl);
  const q = borderPoint(b, ctrl);
  const middle = { x: 0.25 * p.x + 0.5 * ctrl.x + 0.25 * q.x, y: 0.25 * p.y + 0.5 * ctrl.y + 0.25 * q.y };
  return { path: `M${n(p.x)},${n(p.y)} Q${n(ctrl.x)},${n(ctrl.y)} ${n(q.x)},${n(q.y)}`, middle };
}

/** A coordinate as written into the SVG: at most one decimal, so the output is stable and short. */
export function n(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/**
 * The width of `text` at `size` px, estimated (no fonts here): monospace faces advance 0.6 em; for
 * the sans faces 0.62 em is at or above the average of the common ones (DejaVu Sans is the widest),
 * so boxes sized with it hold their text.
 */
export function textWidth(text: string, size: number, face: 'sans' | 'mono' | 'bold' = 'sans'): number {
  const em = face === 'mono' ? 0.6 : face === 'bold' ? 0.68 : 0.62;
  return [...text].length * size * em;
}

/** `text` cut to fit `width` (with "…"), or as is when it fits. */
export function fitText(text: string, size: number, width: number, face: 'sans' | 'mono' | 'bold' = 'sans'): string {
  if (textWidth(text, size, face) <= width) return text;
  const chars = [...text];
  let keep = chars.length;
  while (keep > 1 && textWidth(`${chars.slice(0, keep).join('')}…`, size, face) > width) keep--;
  return `${chars.slice(0, keep).join('')}…`;
}
