import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arcPath, borderPoint, bowedLink, columnsFor, fitText, gridLayout, n, overlap, rowsOf, textWidth, type Box } from './layout.ts';

const sizes = (count: number, height: (i: number) => number = () => 100) => Array.from({ length: count }, (_, i) => ({ width: 240, height: height(i) }));

test('gridLayout: ELK fills rows left to right in order, `columns` a row, with the asked gaps', async () => {
  const boxes = await gridLayout(sizes(23, (i) => 80 + (i % 4) * 25), { columns: 5, gapX: 30, gapY: 40 });
  assert.equal(boxes.length, 23);
  const rows = rowsOf(boxes.map((b, i) => ({ ...b, i })));
  assert.deepEqual(rows.map((r) => r.length), [5, 5, 5, 5, 3]);
  assert.deepEqual(rows.flat().map((b) => b.i), Array.from({ length: 23 }, (_, i) => i), 'reading order is the input order');
  for (const row of rows) {
    assert.deepEqual(row.map((b) => b.x), [0, 270, 540, 810, 1080].slice(0, row.length));
  }
  // A row is as high as its highest box, then the gap.
  const tops = rows.map((r) => r[0]?.y ?? -1);
  for (let r = 1; r < rows.length; r++) {
    const above = Math.max(...(rows[r - 1] ?? []).map((b) => b.height));
    assert.equal(tops[r], (tops[r - 1] ?? 0) + above + 40);
  }
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlap(boxes[i] as Box, boxes[j] as Box), `${i} and ${j} overlap`);
});

test('gridLayout: one row when the columns hold every box; nothing for nothing', async () => {
  const row = await gridLayout(sizes(20), { columns: 20, gapX: 56, gapY: 0 });
  assert.equal(new Set(row.map((b) => b.y)).size, 1);
  assert.deepEqual(row.map((b) => b.x), Array.from({ length: 20 }, (_, i) => i * 296));
  assert.deepEqual(await gridLayout([], { columns: 3, gapX: 10, gapY: 10 }), []);
  const single = await gridLayout(sizes(1), { columns: 9, gapX: 10, gapY: 10 });
  assert.deepEqual(single, [{ x: 0, y: 0, width: 240, height: 100 }]);
});

test('columnsFor: a grid about `aspect` times as wide as high', () => {
  assert.equal(columnsFor(100, { width: 258, height: 150 }, 1.6), 10);
  assert.equal(columnsFor(3, { width: 100, height: 100 }, 100), 3, 'never more columns than boxes');
  assert.equal(columnsFor(1, { width: 100, height: 1000 }, 0.01), 1);
});

test('overlap: touching edges do not overlap, sharing area does', () => {
  const a = { x: 0, y: 0, width: 10, height: 10 };
  assert.equal(overlap(a, { x: 10, y: 0, width: 5, height: 5 }), false);
  assert.equal(overlap(a, { x: 0, y: 10, width: 5, height: 5 }), false);
  assert.equal(overlap(a, { x: 9, y: 9, width: 5, height: 5 }), true);
});

test('arcPath: a cubic whose lowest point is `depth` under the line', () => {
  const d = arcPath({ x: 0, y: 100 }, { x: 300, y: 100 }, 30);
  assert.equal(d, 'M0,100 C0,140 300,140 300,100');
  // The curve's middle (t = 1/2): y = (p0 + 3 c1 + 3 c2 + p3) / 8.
  assert.equal((100 + 3 * 140 + 3 * 140 + 100) / 8, 130);
});

test('borderPoint and bowedLink: lines start and end on the boxes, not inside them', () => {
  const box = { x: 0, y: 0, width: 200, height: 100 };
  assert.deepEqual(borderPoint(box, { x: 1100, y: 50 }), { x: 200, y: 50 });
  assert.deepEqual(borderPoint(box, { x: 100, y: -400 }), { x: 100, y: 0 });
  const a = { x: 0, y: 0, width: 200, height: 100 };
  const b = { x: 600, y: 0, width: 200, height: 100 };
  const { path, middle } = bowedLink(a, b);
  const [start, , end] = path.replace(/[MQ]/g, '').trim().split(/\s+/).map((p) => p.split(',').map(Number));
  assert.deepEqual(start?.[0], 200, `starts on a's right side: ${path}`);
  assert.deepEqual(end?.[0], 600, `ends on b's left side: ${path}`);
  assert.ok(middle.x === 400 && middle.y > 50, `bowed off the straight line: ${JSON.stringify(middle)}`);
});

test('fitText: cuts with "…" to the width; textWidth grows with the text', () => {
  assert.equal(fitText('node1', 12, 1000), 'node1');
  const cut = fitText('a-very-long-pod-name-that-does-not-fit', 12, 100, 'mono');
  assert.ok(cut.endsWith('…') && textWidth(cut, 12, 'mono') <= 100, cut);
  assert.ok(textWidth('abcd', 12) > textWidth('abc', 12));
  assert.equal(n(1.26), '1.3');
  assert.equal(n(-0.01), '0');
});
