import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlap, type Box } from './layout.ts';
import { compareNames, escapeXml, MESH_LIMIT, renderTopologySvg } from './svg.ts';
import type { LabSnapshot, SnapshotLink, SnapshotNode, SnapshotPod } from './snapshot-types.ts';

// ---- fixtures: labs as readSnapshot builds them (routes as `ip route` prints them) ----

interface LabSpec {
  readonly nodes: number;
  readonly podsPerNode: number;
  readonly backend: 'vxlan' | 'host-gw' | 'wireguard' | 'udp';
  /** Directed links with no route of the fabric. */
  readonly missing?: ReadonlyArray<readonly [string, string]>;
  readonly stopped?: readonly string[];
  readonly faults?: Readonly<Record<string, readonly string[]>>;
  readonly rename?: (i: number) => string;
}

const WG_KEY = (i: number): string => `${String.fromCharCode(65 + (i % 26))}${'wQ3xZ9kLmN2pR7sT1uV5yB8cD4eF6gH0jK+/aX'.repeat(2).slice(0, 42)}=`;

function lab(spec: LabSpec): LabSnapshot {
  const name = spec.rename ?? ((i: number) => `node${i}`);
  const nodes: SnapshotNode[] = Array.from({ length: spec.nodes }, (_, k) => {
    const i = k + 1;
    const identity =
      spec.backend === 'vxlan'
        ? { title: 'VTEP MAC', value: `6e:1c:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }
        : spec.backend === 'wireguard'
          ? { title: 'WG PUBLIC KEY', value: WG_KEY(i) }
          : spec.backend === 'udp'
            ? { title: 'TUN', value: 'flannel0' }
            : { title: 'TUNNEL', value: '-' };
    return {
      name: name(i),
      ns: `lab-n${i}`,
      underlayIP: `192.168.50.${10 + i}`,
      subnet: `10.244.${i}.1/24`,
      mtu: spec.backend === 'vxlan' ? 1450 : 1500,
      identity,
      flanneld: spec.stopped?.includes(name(i)) ? 'stopped' : 'running',
      faults: [...(spec.faults?.[name(i)] ?? [])],
    };
  });
  const pods: SnapshotPod[] = nodes.flatMap((node, k) =>
    Array.from({ length: spec.podsPerNode }, (_, j) => ({ name: `${node.name}-pod${j + 1}`, node: node.name, ns: `lab-n${k + 1}-pod${j + 1}`, ip: `10.244.${k + 1}.${j + 2}` })),
  );
  const links: SnapshotLink[] = [];
  nodes.forEach((from) =>
    nodes.forEach((to, k) => {
      if (from === to) return;
      const subnet = `10.244.${k + 1}.0/24`;
      if (spec.missing?.some(([f, t]) => f === from.name && t === to.name)) {
        links.push({ from: from.name, to: to.name, kind: 'missing', route: 'default via 192.168.50.1 dev eth0' });
      } else if (spec.backend === 'host-gw') {
        links.push({ from: from.name, to: to.name, kind: 'route', route: `${subnet} via ${to.underlayIP} dev eth0` });
      } else if (spec.backend === 'vxlan') {
        links.push({ from: from.name, to: to.name, kind: 'tunnel', route: `${subnet} via 10.244.${k + 1}.0 dev flannel.1 onlink` });
      } else if (spec.backend === 'wireguard') {
        links.push({ from: from.name, to: to.name, kind: 'tunnel', route: '10.244.0.0/16 dev flannel-wg scope link', peer: `peer ${to.identity.value} allowed ips ${subnet}` });
      } else {
        links.push({ from: from.name, to: to.name, kind: 'tunnel', route: '10.244.0.0/16 dev flannel0 scope link' });
      }
    }),
  );
  return {
    lab: {
      name: 'lab',
      backend: spec.backend,
      directRouting: false,
      nftables: spec.backend === 'wireguard',
      network: '10.244.0.0/16',
      etcd: ['http://192.168.50.2:2379'],
      underlay: '192.168.50.0/24',
      stateDir: '/tmp/flannel-lab',
    },
    nodes,
    pods,
    links,
    matrix: { at: null, mode: 'all', total: 0, cells: [], nodes: [] },
    doctor: null,
    takenAt: '2025-03-01T12:00:00.000Z',
  };
}

// ---- a small XML reader: fails on anything not well-formed, gives a tree to query ----

interface El {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: El[];
  /** Character data directly inside, entities resolved. */
  text: string;
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

function unescape(s: string): string {
  const bad = /&(?!(?:amp|lt|gt|quot|#39);)/.exec(s);
  if (bad) throw new Error(`raw "&" at ${bad.index} in ${JSON.stringify(s.slice(0, 80))}`);
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ENTITY[e] ?? '');
}

function parseXml(doc: string): El {
  const top: El = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: El[] = [top];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    const chars = doc.slice(i, lt === -1 ? doc.length : lt);
    if (chars.includes('>')) throw new Error(`raw ">" in text ${JSON.stringify(chars.slice(0, 80))}`);
    const current = stack[stack.length - 1] as El;
    current.text += unescape(chars);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(doc);
    if (!m) throw new Error(`not a well-formed tag at ${lt}: ${JSON.stringify(doc.slice(lt, lt + 80))}`);
    const [whole, close, name = '', attrText = '', selfClose] = m;
    if (close) {
      if (attrText || selfClose) throw new Error(`bad end tag ${whole}`);
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText.matchAll(/([A-Za-z_:][\w:.-]*)="([^"]*)"/g)) {
        const [, key = '', value = ''] = a;
        if (key in attrs) throw new Error(`attribute ${key} twice in ${whole}`);
        attrs[key] = unescape(value);
      }
      const el: El = { name, attrs, children: [], text: '' };
      current.children.push(el);
      if (!selfClose) stack.push(el);
    }
    i = lt + whole.length;
  }
  if (stack.length !== 1) throw new Error(`unclosed: ${stack.map((e) => e.name).join(' > ')}`);
  if (top.children.length !== 1 || top.text.trim() !== '') throw new Error('a document has one root element and nothing else');
  return top.children[0] as El;
}

function all(el: El, match: (e: El) => boolean): El[] {
  return [...(match(el) ? [el] : []), ...el.children.flatMap((c) => all(c, match))];
}

const classOf = (e: El): string[] => (e.attrs.class ?? '').split(/\s+/).filter(Boolean);
const groups = (root: El, cls: string): El[] => all(root, (e) => e.name === 'g' && classOf(e).includes(cls));

/** What a reader sees: the text of the element, without tooltips (<title>) and the stylesheet. */
function visibleText(el: El): string {
  if (el.name === 'title' || el.name === 'style') return '';
  return el.text + el.children.map(visibleText).join(' ');
}

/** The node boxes, placed: each node group's translate plus its box's size. */
function nodeBoxes(root: El): Array<Box & { name: string }> {
  return groups(root, 'node').map((g) => {
    const t = /^translate\(([-\d.]+),([-\d.]+)\)$/.exec(g.attrs.transform ?? '');
    assert.ok(t, `node ${g.attrs['data-node']} has a translate: ${g.attrs.transform}`);
    const rect = all(g, (e) => e.name === 'rect' && classOf(e).includes('ft-node-box'))[0];
    assert.ok(rect, `node ${g.attrs['data-node']} has a box`);
    return {
      name: g.attrs['data-node'] ?? '',
      x: Number(t[1]) + Number(rect.attrs.x ?? 0),
      y: Number(t[2]) + Number(rect.attrs.y ?? 0),
      width: Number(rect.attrs.width),
      height: Number(rect.attrs.height),
    };
  });
}

async function render(spec: LabSpec): Promise<{ svg: string; root: El }> {
  const svg = await renderTopologySvg(lab(spec));
  return { svg, root: parseXml(svg) };
}

function assertStandalone(svg: string, root: El): void {
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const width = Number(root.attrs.width);
  const height = Number(root.attrs.height);
  assert.ok(width > 0 && height > 0, `width ${width} height ${height}`);
  assert.equal(root.attrs.viewBox, `0 0 ${width} ${height}`);
  assert.equal(root.children[0]?.name, 'title', 'the <title> comes first');
  assert.equal(all(root, (e) => e.name === 'style').length, 1);
  assert.equal(all(root, (e) => e.name === 'script' || e.name === 'image' || e.name === 'use' || e.name === 'foreignObject').length, 0);
  assert.ok(!/href|url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(svg.replace('http://192.168.50.2:2379', '')), 'no external references');
  assert.ok(!/\sid="/.test(svg), 'no ids (two pictures in one page would clash)');
}

function assertNoOverlap(boxes: ReadonlyArray<Box & { name: string }>): void {
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i] as Box & { name: string }, boxes[j] as Box & { name: string }];
      assert.ok(!overlap(a, b), `${a.name} ${JSON.stringify(a)} overlaps ${b.name} ${JSON.stringify(b)}`);
    }
  }
}

// ---- the tests ----

test('vxlan, 3 nodes × 2 pods: the switch, every node, pod and node pair, the legend', async () => {
  const { svg, root } = await render({ nodes: 3, podsPerNode: 2, backend: 'vxlan' });
  assertStandalone(svg, root);
  assert.equal(groups(root, 'switch').length, 1);
  assert.match(visibleText(groups(root, 'switch')[0] as El), /br0 · underlay 192\.168\.50\.0\/24/);

  const nodes = groups(root, 'node');
  assert.deepEqual(nodes.map((g) => g.attrs['data-node']), ['node1', 'node2', 'node3']);
  for (const g of nodes) assert.equal(g.attrs.class, 'node');
  const node2 = visibleText(nodes[1] as El);
  for (const want of ['node2', 'eth0 192.168.50.12', '10.244.2.1/24', 'VTEP MAC', '6e:1c:00:00:00:02', 'flannel.1', 'cni0 10.244.2.1', 'node2-pod1', '10.244.2.2', 'node2-pod2', '10.244.2.3']) {
    assert.ok(node2.includes(want), `node2's box shows "${want}": ${node2}`);
  }

  const pods = groups(root, 'pod');
  assert.equal(pods.length, 6);
  for (const p of pods) {
    assert.equal(p.attrs.class, 'pod');
    const owner = nodes.find((g) => g.attrs['data-node'] === p.attrs['data-node']);
    assert.ok(owner && all(owner, (e) => e === p).length === 1, `pod ${p.attrs['data-pod']} is drawn inside its node`);
  }
  assert.deepEqual(pods.map((p) => p.attrs['data-pod']), ['node1-pod1', 'node1-pod2', 'node2-pod1', 'node2-pod2', 'node3-pod1', 'node3-pod2']);

  const links = groups(root, 'link');
  assert.deepEqual(links.map((l) => [l.attrs.class, l.attrs['data-from'], l.attrs['data-to']]), [
    ['link link-tunnel', 'node1', 'node2'],
    ['link link-tunnel', 'node1', 'node3'],
    ['link link-tunnel', 'node2', 'node3'],
  ]);
  const labels = all(root, (e) => e.name === 'g' && classOf(e).includes('ft-link-tag')).map(visibleText);
  assert.deepEqual(labels.map((l) => l.trim()), ['flannel.1', 'flannel.1', 'flannel.1']);

  const legend = visibleText(groups(root, 'ft-legend')[0] as El);
  assert.ok(legend.includes('3×2 links: 6 tunnel, 0 route, 0 missing'), legend);
  for (const want of ['backend vxlan', 'network 10.244.0.0/16', 'iptables', 'tunnel', 'host route', 'missing']) assert.ok(legend.includes(want), `legend has "${want}"`);
  assertNoOverlap(nodeBoxes(root));
  assert.equal(new Set(nodeBoxes(root).map((b) => b.y)).size, 1, 'a small lab stands in one row');
});

test('host-gw: green routes "via <peer>", no overlay device', async () => {
  const { svg, root } = await render({ nodes: 3, podsPerNode: 1, backend: 'host-gw' });
  assertStandalone(svg, root);
  const links = groups(root, 'link');
  assert.equal(links.length, 3);
  assert.ok(links.every((l) => l.attrs.class === 'link link-route'));
  const labels = all(root, (e) => classOf(e).includes('ft-link-tag')).map((e) => visibleText(e).trim());
  assert.deepEqual(labels, ['via 192.168.50.12 / 192.168.50.11', 'via 192.168.50.13 / 192.168.50.11', 'via 192.168.50.13 / 192.168.50.12']);
  const node1 = visibleText(groups(root, 'node')[0] as El);
  assert.ok(node1.includes('no overlay device'), node1);
  assert.ok(!/flannel\.1|flannel-wg|flannel0/.test(visibleText(root)));
  assert.ok(!node1.includes('TUNNEL'), 'an identity of "-" says nothing and is left out');
  assert.ok(visibleText(groups(root, 'ft-legend')[0] as El).includes('3×2 links: 0 tunnel, 6 route, 0 missing'));
});

test('wireguard: long public keys shortened to 8 characters and "…", whole in the tooltip', async () => {
  const { svg, root } = await render({ nodes: 3, podsPerNode: 1, backend: 'wireguard' });
  assertStandalone(svg, root);
  for (const [k, g] of groups(root, 'node').entries()) {
    const key = WG_KEY(k + 1);
    assert.equal(key.length, 44);
    const seen = visibleText(g);
    assert.ok(seen.includes(`${key.slice(0, 8)}…`), seen);
    assert.ok(!seen.includes(key.slice(0, 12)), 'the whole key is not printed');
    assert.ok(all(g, (e) => e.name === 'title').some((t) => t.text.includes(key)), 'the tooltip holds the whole key');
    assert.ok(seen.includes('flannel-wg'));
  }
  assert.ok(groups(root, 'link').every((l) => l.attrs.class === 'link link-tunnel'));
  assert.ok(visibleText(groups(root, 'ft-legend')[0] as El).includes('nftables'));
});

test('a missing link: red, its label names the direction that has no route; both ways say so', async () => {
  const one = await render({ nodes: 3, podsPerNode: 1, backend: 'vxlan', missing: [['node3', 'node1']] });
  assertStandalone(one.svg, one.root);
  const missing = groups(one.root, 'link-missing');
  assert.equal(missing.length, 1);
  assert.equal(missing[0]?.attrs.class, 'link link-missing');
  assert.equal(missing[0]?.attrs['data-from'], 'node1');
  assert.equal(missing[0]?.attrs['data-to'], 'node3');
  assert.equal(groups(one.root, 'link-tunnel').length, 2);
  const label = all(one.root, (e) => classOf(e).includes('ft-link-tag') && e.attrs['data-to'] === 'node3' && e.attrs['data-from'] === 'node1').map(visibleText);
  assert.deepEqual(label.map((l) => l.trim()), ['missing: node3 → node1']);
  assert.ok(visibleText(groups(one.root, 'ft-legend')[0] as El).includes('3×2 links: 5 tunnel, 0 route, 1 missing'));

  const both = await render({ nodes: 3, podsPerNode: 1, backend: 'vxlan', missing: [['node3', 'node1'], ['node1', 'node3']] });
  assert.ok(all(both.root, (e) => classOf(e).includes('ft-link-tag')).some((e) => visibleText(e).trim() === 'missing: node1 ⇄ node3'));
});

test('a stopped flanneld is greyed with "flanneld stopped"; its faults are red badges', async () => {
  const { svg, root } = await render({ nodes: 3, podsPerNode: 1, backend: 'vxlan', stopped: ['node2'], faults: { node2: ['udp-blocked', 'no-cni-conf'] } });
  assertStandalone(svg, root);
  const [n1, n2] = groups(root, 'node') as [El, El];
  assert.equal(n2.attrs['data-flanneld'], 'stopped');
  assert.equal(n2.attrs['data-faults'], 'udp-blocked no-cni-conf');
  assert.equal(n1.attrs['data-flanneld'], 'running');
  const seen = visibleText(n2);
  for (const want of ['flanneld stopped', 'fault: udp-blocked', 'fault: no-cni-conf']) assert.ok(seen.includes(want), seen);
  assert.ok(all(n2, (e) => e.name === 'rect' && classOf(e).includes('ft-stopped')).length === 1, 'its box is drawn greyed');
  assert.ok(all(n2, (e) => e.name === 'g' && classOf(e).includes('ft-badge')).length === 2);
  assert.ok(!visibleText(n1).includes('stopped') && !visibleText(n1).includes('fault'));
  assert.ok(STYLE_HAS(svg, '.ft-node-box.ft-stopped'), 'the stopped box has its own style');
});

function STYLE_HAS(svg: string, selector: string): boolean {
  return (/<style>([^<]*)<\/style>/.exec(svg)?.[1] ?? '').includes(`${selector}{`);
}

test('hostile names are escaped everywhere (text, attributes, tooltips)', async () => {
  const evil = `<script>alert("x")</script>&'amp;`;
  const { svg, root } = await render({ nodes: 2, podsPerNode: 1, backend: 'vxlan', rename: (i) => (i === 1 ? evil : `node${i}`) });
  assertStandalone(svg, root);
  assert.ok(!svg.includes('<script'), 'no markup gets through');
  assert.ok(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;amp;'));
  const nodes = groups(root, 'node');
  assert.deepEqual(nodes.map((g) => g.attrs['data-node']), [evil, 'node2']);
  assert.ok(groups(root, 'pod').some((p) => p.attrs['data-pod'] === `${evil}-pod1` && p.attrs['data-node'] === evil));
  const link = groups(root, 'link')[0];
  assert.deepEqual([link?.attrs['data-from'], link?.attrs['data-to']].sort(), [evil, 'node2'].sort());
  assert.equal(escapeXml('a\u0000b\u001bc'), 'a\uFFFDb\uFFFDc', 'characters XML forbids are replaced');
});

test('the same snapshot renders to the same string', async () => {
  const spec: LabSpec = { nodes: 4, podsPerNode: 2, backend: 'vxlan', missing: [['node2', 'node4']], stopped: ['node3'], faults: { node3: ['udp-blocked'] } };
  assert.equal(await renderTopologySvg(lab(spec)), await renderTopologySvg(lab(spec)));
});

test(`a mesh of ${MESH_LIMIT} nodes is still drawn whole, in one row, without overlapping boxes`, async () => {
  const { svg, root } = await render({ nodes: MESH_LIMIT, podsPerNode: 2, backend: 'host-gw', missing: [['node20', 'node3']] });
  assertStandalone(svg, root);
  assert.equal(groups(root, 'link').length, (MESH_LIMIT * (MESH_LIMIT - 1)) / 2);
  const boxes = nodeBoxes(root);
  assert.equal(new Set(boxes.map((b) => b.y)).size, 1);
  assertNoOverlap(boxes);
  // Past 15 pairs only what the legend does not say carries a label.
  const labels = all(root, (e) => classOf(e).includes('ft-link-tag')).map((e) => visibleText(e).trim());
  assert.deepEqual(labels, ['missing: node20 → node3']);
});

test('100 nodes × 1 pod: a grid of several rows, only the missing links drawn, counted in the legend', async () => {
  const spec: LabSpec = { nodes: 100, podsPerNode: 1, backend: 'vxlan', missing: [['node7', 'node20'], ['node20', 'node7'], ['node55', 'node3']], stopped: ['node7'], faults: { node7: ['udp-blocked'] } };
  const svg = await renderTopologySvg(lab(spec));
  const root = parseXml(svg);
  assertStandalone(svg, root);
  assert.equal(groups(root, 'node').length, 100);
  assert.equal(groups(root, 'pod').length, 100);
  assert.equal(groups(root, 'switch').length, 1);
  const links = groups(root, 'link');
  assert.deepEqual(links.map((l) => [l.attrs.class, l.attrs['data-from'], l.attrs['data-to']]), [
    ['link link-missing', 'node3', 'node55'],
    ['link link-missing', 'node7', 'node20'],
  ]);
  const legend = visibleText(groups(root, 'ft-legend')[0] as El);
  assert.ok(legend.includes('100×99 links: 9897 tunnel, 0 route, 3 missing'), legend);

  const boxes = nodeBoxes(root);
  assertNoOverlap(boxes);
  const rows = new Map<number, number>();
  for (const b of boxes) rows.set(b.y, (rows.get(b.y) ?? 0) + 1);
  assert.ok(rows.size > 1, `more than one row (${rows.size})`);
  assert.ok(Math.max(...rows.values()) <= 20, `rows of at most 20 boxes: ${[...rows.values()].join(',')}`);
  const width = Number(root.attrs.width);
  const height = Number(root.attrs.height);
  assert.ok(width / height < 3 && height / width < 3, `about as wide as high: ${width}×${height}`);
  // In reading order: node k+1 right of node k in its row, or first of the next row.
  for (let k = 1; k < boxes.length; k++) {
    const [a, b] = [boxes[k - 1] as Box, boxes[k] as Box];
    assert.ok((b.y === a.y && b.x > a.x) || b.y > a.y, `${boxes[k]?.name} follows ${boxes[k - 1]?.name}`);
  }
  const node55 = visibleText(groups(root, 'node').find((g) => g.attrs['data-node'] === 'node55') as El);
  assert.ok(node55.includes('1 link missing'), node55);
  assert.equal(svg, await renderTopologySvg(lab(spec)), 'deterministic at 100 nodes too');
});

test('node names order as people read them (data-from/data-to of a pair)', () => {
  const names = ['node10', 'node2', 'node1', 'node100', 'a', 'node02'];
  assert.deepEqual([...names].sort(compareNames), ['a', 'node1', 'node02', 'node2', 'node10', 'node100']);
  assert.ok(compareNames('node7', 'node20') < 0 && compareNames('node20', 'node7') > 0 && compareNames('x', 'x') === 0);
});

test('an empty lab and a lab of one node still give a picture', async () => {
  for (const nodes of [0, 1]) {
    const { svg, root } = await render({ nodes, podsPerNode: 0, backend: 'udp' });
    assertStandalone(svg, root);
    assert.equal(groups(root, 'node').length, nodes);
    assert.equal(groups(root, 'link').length, 0);
    assert.ok(visibleText(groups(root, 'ft-legend')[0] as El).includes(`${nodes}×${Math.max(0, nodes - 1)} links: 0 tunnel, 0 route, 0 missing`));
  }
});
