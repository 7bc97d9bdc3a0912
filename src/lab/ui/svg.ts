/**
 * @module lab/ui/svg
 * The lab's fabric as a standalone SVG picture (`lab status --svg FILE`, and the topology of the
 * `lab ui` page, which puts the string into its DOM as is): the underlay switch br0 with every
 * node on it by its eth0, each node with its subnet, identity, overlay device, cni0 and pods, and
 * the links between nodes. Up to MESH_LIMIT nodes stand in one row with every node pair drawn as an
 * arc under it; bigger labs flow into a grid where only the missing links are drawn.
 *
 * The page relies on (exactly): <g class="switch">, <g class="node" data-node>, <g class="pod"
 * data-pod data-node>, <g class="link link-tunnel|link-route|link-missing" data-from data-to>.
 * Styling uses only "ft-" classes and no element selectors, so the <style> (global once inline in
 * an HTML page) touches nothing of the page's own; no ids, so two pictures in a page never clash.
 */
import { arcPath, bowedLink, columnsFor, fitText, gridLayout, n, rowsOf, textWidth, type Box } from './layout.ts';
import type { LabSnapshot, SnapshotLink, SnapshotNode, SnapshotPod } from './snapshot-types.ts';

/** Above this many nodes the N² mesh is not drawn and nodes flow into a grid (a 100-node lab is real). */
export const MESH_LIMIT = 20;

type Kind = SnapshotLink['kind'];
const KINDS: readonly Kind[] = ['tunnel', 'route', 'missing'];
/** Which of two directions classes a pair: the worse one. */
const SEVERITY: Record<Kind, number> = { tunnel: 0, route: 1, missing: 2 };

/** The device flanneld sends other nodes' pod traffic into, per backend; none for the routing ones. */
const OVERLAY_DEVICE: Record<string, string> = { vxlan: 'flannel.1', wireguard: 'flannel-wg', udp: 'flannel0', ipip: 'flannel.ipip' };

const MARGIN = 24;
const SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", Arial, sans-serif';
const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

const STYLE = `
.ft-title{font-size:18px;font-weight:700;fill:#0f172a}
.ft-sub{font-size:13px;fill:#475569}
.ft-mono{font-family:${MONO}}
.ft-switch-bar{fill:#334155}
.ft-switch-text{font-size:13px;fill:#ffffff;font-weight:600}
.ft-bus{stroke:#475569;stroke-width:3;fill:none}
.ft-wire{stroke:#64748b;stroke-width:2;fill:none}
.ft-wire-label{font-size:11px;fill:#334155}
.ft-node-box{fill:#f8fafc;stroke:#64748b;stroke-width:1.5}
.ft-node-box.ft-stopped{fill:#e5e7eb;stroke:#9ca3af;stroke-dasharray:6 4}
.ft-name{font-size:15px;font-weight:700;fill:#0f172a}
.ft-name-small{font-size:13px;font-weight:700;fill:#0f172a}
.ft-dim .ft-name,.ft-dim .ft-name-small,.ft-dim .ft-v,.ft-dim .ft-pod-text{fill:#6b7280}
.ft-state{font-size:12px;font-weight:700;fill:#4b5563}
.ft-line{font-size:12px}
.ft-small{font-size:11px}
.ft-k{fill:#64748b}
.ft-v{fill:#0f172a}
.ft-none{font-size:12px;font-style:italic;fill:#64748b}
.ft-badge-box{fill:#dc2626}
.ft-badge-text{font-size:11px;font-weight:700;fill:#ffffff}
.ft-warn{font-size:11px;font-weight:700;fill:#b91c1c}
.ft-dev-box{fill:#dbeafe;stroke:#2563eb}
.ft-cni-box{fill:#ccfbf1;stroke:#0d9488}
.ft-chip-text{font-size:12px;fill:#0f172a}
.ft-tree{stroke:#0d9488;stroke-width:1.5;fill:none}
.ft-pod-box{fill:#fffbeb;stroke:#d97706}
.ft-pod-text{font-size:12px;fill:#0f172a}
.ft-pod-small{font-size:11px;fill:#92400e}
.ft-link-line{fill:none;stroke-width:2}
.ft-tunnel{stroke:#2563eb}
.ft-route{stroke:#16a34a}
.ft-missing{stroke:#dc2626;stroke-dasharray:7 5;stroke-width:2.5}
.ft-dense .ft-link-line{stroke-width:1.25;stroke-opacity:.7}
.ft-dense .ft-missing{stroke-width:2.5;stroke-opacity:1}
.ft-tag{fill:#ffffff;stroke-width:1}
.ft-tag.ft-missing{stroke-width:1;stroke-dasharray:none}
.ft-tag-text{font-size:11px}
.ft-tunnel-text{fill:#1d4ed8}
.ft-route-text{fill:#15803d}
.ft-missing-text{fill:#b91c1c;font-weight:700}
.ft-legend-text{font-size:12px;fill:#334155}
.ft-legend-strong{font-size:12px;font-weight:700;fill:#0f172a}
`;

/** Text for SVG/XML: the five special characters escaped, characters XML forbids replaced. */
export function escapeXml(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
const esc = escapeXml;

function text(x: number, y: number, cls: string, content: string, anchor?: 'middle' | 'end'): string {
  return `<text x="${n(x)}" y="${n(y)}" class="${cls}"${anchor ? ` text-anchor="${anchor}"` : ''}>${esc(content)}</text>`;
}

/** "label value" on one line: the label in the sans face, the value in mono. */
function labelled(x: number, y: number, cls: string, label: string, value: string, tip?: string): string {
  const tail = tip ? `<title>${esc(tip)}</title>` : '';
  return `<text x="${n(x)}" y="${n(y)}" class="${cls}"><tspan class="ft-k">${esc(label)} </tspan><tspan class="ft-v ft-mono">${esc(value)}</tspan>${tail}</text>`;
}

function labelledWidth(label: string, value: string, size: number): number {
  return textWidth(`${label} `, size) + textWidth(value, size, 'mono');
}

/** WireGuard keys are 44 characters: the first 8 tell nodes apart on a picture. */
function shortIdentity(value: string): string {
  return value.length > 20 ? `${value.slice(0, 8)}…` : value;
}

/** The gateway (cni0's address) of a FLANNEL_SUBNET like 10.244.1.1/24. */
function gatewayOf(subnet: string | undefined): string | undefined {
  return subnet?.split('/')[0];
}

function deviceOf(route: string): string | undefined {
  return /\bdev (\S+)/.exec(route)?.[1];
}

function viaOf(route: string): string | undefined {
  return /\bvia (\S+)/.exec(route)?.[1];
}

/**
 * Name order as people read node names: runs of digits compare as numbers (node2 before node10),
 * ties fall back to the plain order, so it is total and needs no locale.
 */
export function compareNames(x: string, y: string): number {
  const px = x.match(/\d+|\D+/g) ?? [];
  const py = y.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(px.length, py.length); i++) {
    const a = px[i] ?? '';
    const b = py[i] ?? '';
    if (a === b) continue;
    const digits = /^\d/.test(a) && /^\d/.test(b);
    if (digits && Number(a) !== Number(b)) return Number(a) - Number(b);
    return a < b ? -1 : 1;
  }
  return px.length !== py.length ? px.length - py.length : x < y ? -1 : x > y ? 1 : 0;
}

interface Pair {
  /** The pair's names in name order (data-from, data-to). */
  readonly a: string;
  readonly b: string;
  readonly kind: Kind;
  readonly ab?: SnapshotLink;
  readonly ba?: SnapshotLink;
}

/** One pair per two nodes with a link either way, classed by the worse direction. */
export function pairLinks(links: readonly SnapshotLink[], nodes: readonly string[]): Pair[] {
  const known = new Set(nodes);
  const byKey = new Map<string, { a: string; b: string; ab?: SnapshotLink; ba?: SnapshotLink }>();
  for (const l of links) {
    if (l.from === l.to || !known.has(l.from) || !known.has(l.to)) continue;
    const [a, b] = compareNames(l.from, l.to) <= 0 ? [l.from, l.to] : [l.to, l.from];
    const key = `${a}\u0000${b}`;
    const p = byKey.get(key) ?? { a, b };
    if (l.from === a) p.ab = l;
    else p.ba = l;
    byKey.set(key, p);
  }
  return [...byKey.values()]
    .map((p) => {
      const kinds = [p.ab, p.ba].flatMap((l) => (l ? [l.kind] : []));
      const kind = kinds.reduce<Kind>((w, k) => (SEVERITY[k] > SEVERITY[w] ? k : w), 'tunnel');
      return { ...p, kind };
    })
    .sort((x, y) => compareNames(x.a, y.a) || compareNames(x.b, y.b));
}

function pairLabel(p: Pair, fallbackDevice: string): string {
  const dirs = [p.ab, p.ba].filter((l): l is SnapshotLink => l !== undefined);
  if (p.kind === 'missing') {
    const missing = dirs.filter((l) => l.kind === 'missing');
    if (missing.length === 2) return `missing: ${p.a} ⇄ ${p.b}`;
    const m = missing[0];
    return m ? `missing: ${m.from} → ${m.to}` : 'missing';
  }
  const words = dirs.map((l) => (l.kind === 'route' ? `via ${viaOf(l.route) ?? '?'}` : (deviceOf(l.route) ?? fallbackDevice)));
  const unique = [...new Set(words)];
  if (unique.every((w) => w.startsWith('via '))) return `via ${unique.map((w) => w.slice(4)).join(' / ')}`;
  return unique.join(' / ');
}

function pairTip(p: Pair): string {
  return [p.ab, p.ba]
    .filter((l): l is SnapshotLink => l !== undefined)
    .map((l) => `${l.from} → ${l.to}: ${l.kind}${l.route ? ` (${l.route})` : ' (no route)'}${l.peer ? `, ${l.peer}` : ''}`)
    .join('\n');
}

function linkGroup(p: Pair, body: string): string {
  return `<g class="link link-${p.kind}" data-from="${esc(p.a)}" data-to="${esc(p.b)}"><title>${esc(pairTip(p))}</title>${body}</g>`;
}

/** A link's label, in a layer over all the lines (a later line would cross an earlier label). */
function labelGroup(p: Pair, body: string): string {
  return `<g class="ft-link-tag" data-from="${esc(p.a)}" data-to="${esc(p.b)}"><title>${esc(pairTip(p))}</title>${body}</g>`;
}

/** A node's box: what it needs, and how to draw it once its size is decided. */
interface Card {
  readonly width: number;
  readonly height: number;
  draw(width: number, height: number): string;
}

interface CardInput {
  readonly node: SnapshotNode;
  readonly pods: readonly SnapshotPod[];
  readonly backend: string;
  /** For the grid: how many of its links are missing (the lines are drawn, this says it in the box). */
  readonly missing: number;
}

const FULL = { pad: 12, minWidth: 250, maxWidth: 380 };
const COMPACT = { pad: 8, width: 230 };

function badgeRows(faults: readonly string[], width: number, size: number): Array<Array<{ label: string; w: number }>> {
  const rows: Array<Array<{ label: string; w: number }>> = [];
  let used = Infinity;
  for (const f of faults) {
    const label = fitText(`fault: ${f}`, size, width - 12, 'bold');
    const w = textWidth(label, size, 'bold') + 12;
    if (used + 6 + w > width) {
      rows.push([]);
      used = -6;
    }
    rows[rows.length - 1]?.push({ label, w });
    used += 6 + w;
  }
  return rows;
}

function drawBadges(rows: ReturnType<typeof badgeRows>, x0: number, y0: number, h: number): string {
  return rows
    .flatMap((row, r) => {
      let x = x0;
      return row.map(({ label, w }) => {
        const y = y0 + r * (h + 4);
        const out = `<g class="ft-badge"><rect class="ft-badge-box" x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${h}" rx="4"/>${text(x + 6, y + h - 5, 'ft-badge-text', label)}</g>`;
        x += w + 6;
        return out;
      });
    })
    .join('');
}

function podGroup(p: SnapshotPod, body: string): string {
  return `<g class="pod" data-pod="${esc(p.name)}" data-node="${esc(p.node)}"><title>${esc(`${p.name} ${p.ip} (netns ${p.ns})`)}</title>${body}</g>`;
}

/** The box of a lab of up to MESH_LIMIT nodes: everything, pods as boxes hanging off cni0. */
function fullCard(c: CardInput): Card {
  const { node, pods } = c;
  const { pad } = FULL;
  const device = OVERLAY_DEVICE[c.backend];
  const gateway = gatewayOf(node.subnet);
  const stopped = node.flanneld === 'stopped';
  const lines: Array<{ label: string; value: string; tip?: string }> = [
    { label: 'subnet', value: node.subnet ? `${node.subnet}${node.mtu ? ` · mtu ${node.mtu}` : ''}` : 'none yet' },
    ...(node.identity.value && node.identity.value !== '-' ? [{ label: node.identity.title, value: shortIdentity(node.identity.value), tip: `${node.identity.title} ${node.identity.value}` }] : []),
  ];
  const deviceText = device ?? 'no overlay device: routes via eth0';
  const cniText = `cni0 ${gateway ?? '(no address yet)'}`;
  const need = Math.max(
    textWidth(node.name, 15, 'bold') + (stopped ? 16 + textWidth('flanneld stopped', 12, 'bold') : 0),
    ...lines.map((l) => labelledWidth(l.label, l.value, 12)),
    device ? textWidth(device, 12, 'mono') + 16 + textWidth(` ${c.backend}`, 12) : textWidth(deviceText, 12),
    textWidth(cniText, 12, 'mono') + 16,
    ...pods.map((p) => 18 + 16 + textWidth(p.name, 12) + 14 + textWidth(p.ip, 12, 'mono')),
  );
  const width = Math.min(FULL.maxWidth, Math.max(FULL.minWidth, Math.ceil(need + 2 * pad)));
  const inner = width - 2 * pad;
  const badges = badgeRows(node.faults, inner, 11);
  const badgeH = badges.length * 24;
  const height = pad + 22 + badgeH + lines.length * 18 + 8 + 24 + 8 + 24 + 6 + Math.max(1, pods.length) * 26 + pad - 4;

  const draw = (w: number, h: number): string => {
    const iw = w - 2 * pad;
    const out: string[] = [`<rect class="ft-node-box${stopped ? ' ft-stopped' : ''}" x="0" y="0" width="${n(w)}" height="${n(h)}" rx="8"/>`];
    let y = pad;
    const stateW = stopped ? textWidth('flanneld stopped', 12, 'bold') : 0;
    out.push(text(pad, y + 15, 'ft-name', fitText(node.name, 15, iw - (stopped ? stateW + 12 : 0), 'bold')));
    if (stopped) out.push(text(w - pad, y + 15, 'ft-state', 'flanneld stopped', 'end'));
    y += 22;
    out.push(drawBadges(badges, pad, y, 20));
    y += badgeH;
    for (const l of lines) {
      const value = fitText(l.value, 12, iw - textWidth(`${l.label} `, 12), 'mono');
      out.push(labelled(pad, y + 13, 'ft-line', l.label, value, l.tip));
      y += 18;
    }
    y += 8;
    if (device) {
      const dw = textWidth(device, 12, 'mono') + 16;
      out.push(`<g class="ft-dev"><rect class="ft-dev-box" x="${pad}" y="${n(y)}" width="${n(dw)}" height="22" rx="4"/>${text(pad + 8, y + 15, 'ft-chip-text ft-mono', device)}</g>`);
      out.push(text(pad + dw + 8, y + 15, 'ft-line ft-k', fitText(`${c.backend} overlay`, 12, iw - dw - 8)));
    } else {
      out.push(text(pad, y + 15, 'ft-none', fitText(deviceText, 12, iw)));
    }
    y += 24 + 8;
    const cw = Math.min(iw, textWidth(cniText, 12, 'mono') + 16);
    out.push(`<g class="ft-cni"><rect class="ft-cni-box" x="${pad}" y="${n(y)}" width="${n(cw)}" height="22" rx="4"/>${text(pad + 8, y + 15, 'ft-chip-text ft-mono', fitText(cniText, 12, cw - 16, 'mono'))}</g>`);
    y += 22 + 6;
    if (pods.length === 0) {
      out.push(text(pad + 18, y + 15, 'ft-none', 'no pods'));
    } else {
      const trunkX = pad + 9;
      const lastMid = y + (pods.length - 1) * 26 + 11;
      out.push(`<path class="ft-tree" d="M${n(trunkX)},${n(y - 6)} V${n(lastMid)}"/>`);
      for (const p of pods) {
        const px = pad + 18;
        const pw = iw - 18;
        const ipW = textWidth(p.ip, 12, 'mono');
        out.push(
          podGroup(
            p,
            `<path class="ft-tree" d="M${n(trunkX)},${n(y + 11)} H${n(px)}"/><rect class="ft-pod-box" x="${n(px)}" y="${n(y)}" width="${n(pw)}" height="22" rx="4"/>` +
              text(px + 8, y + 15, 'ft-pod-text', fitText(p.name, 12, pw - 16 - ipW - 10)) +
              text(px + pw - 8, y + 15, 'ft-pod-text ft-mono', p.ip, 'end'),
          ),
        );
        y += 26;
      }
    }
    return out.join('');
  };
  return { width, height, draw };
}

/** The box of a big lab's grid: the same facts in small type, one line per pod. */
function compactCard(c: CardInput): Card {
  const { node, pods } = c;
  const { pad } = COMPACT;
  const device = OVERLAY_DEVICE[c.backend] ?? 'host routes';
  const gateway = gatewayOf(node.subnet);
  const stopped = node.flanneld === 'stopped';
  const width = COMPACT.width;
  const inner = width - 2 * pad;
  const identity = node.identity.value && node.identity.value !== '-' ? node.identity : undefined;
  const badges = badgeRows(node.faults, inner, 11);
  const lineH = 15;
  const lines = 2 + (identity ? 1 : 0) + (c.missing > 0 ? 1 : 0);
  const height = pad + 18 + badges.length * 22 + lines * lineH + 4 + Math.max(1, pods.length) * lineH + pad;

  const draw = (w: number, h: number): string => {
    const iw = w - 2 * pad;
    const out: string[] = [`<rect class="ft-node-box${stopped ? ' ft-stopped' : ''}" x="0" y="0" width="${n(w)}" height="${n(h)}" rx="6"/>`];
    let y = pad;
    const stateW = stopped ? textWidth('flanneld stopped', 11, 'bold') + 8 : 0;
    out.push(text(pad, y + 13, 'ft-name-small', fitText(node.name, 13, iw - stateW, 'bold')));
    if (stopped) out.push(text(w - pad, y + 13, 'ft-state ft-small', 'flanneld stopped', 'end'));
    y += 18;
    out.push(drawBadges(badges, pad, y + 1, 18));
    y += badges.length * 22;
    const line = (label: string, value: string, tip?: string): void => {
      out.push(labelled(pad, y + 11, 'ft-small', label, fitText(value, 11, iw - textWidth(`${label} `, 11), 'mono'), tip));
      y += lineH;
    };
    line('subnet', node.subnet ?? 'none yet');
    if (identity) line(identity.title, shortIdentity(identity.value), `${identity.title} ${identity.value}`);
    line(device, `cni0 ${gateway ?? '-'}`);
    if (c.missing > 0) {
      out.push(text(pad, y + 11, 'ft-warn', `${c.missing} link${c.missing === 1 ? '' : 's'} missing`));
      y += lineH;
    }
    y += 4;
    if (pods.length === 0) out.push(text(pad, y + 11, 'ft-none ft-small', 'no pods'));
    for (const p of pods) {
      const ipW = textWidth(p.ip, 11, 'mono');
      out.push(podGroup(p, text(pad, y + 11, 'ft-pod-small', `▪ ${fitText(p.name, 11, iw - ipW - 20)}`) + text(w - pad, y + 11, 'ft-pod-small ft-mono', p.ip, 'end')));
      y += lineH;
    }
    return out.join('');
  };
  return { width, height, draw };
}

/** Where a node's eth0 meets the switch: `length` above the box's top, at `x` from its left. */
interface Wire {
  readonly x: number;
  readonly length: number;
  /** From the top end to the label's baseline. */
  readonly labelAt: number;
}

/** A node: its eth0 wire up to the switch (labelled with the underlay address), then its box. */
function nodeGroup(node: SnapshotNode, box: Box, wire: Wire, inner: string): string {
  const attrs = [`class="node"`, `data-node="${esc(node.name)}"`, `data-flanneld="${node.flanneld}"`, ...(node.faults.length ? [`data-faults="${esc(node.faults.join(' '))}"`] : [])];
  const dim = node.flanneld === 'stopped' ? ' ft-dim' : '';
  const eth0 = `<g class="ft-eth0"><path class="ft-wire" d="M${n(wire.x)},${n(-wire.length)} V0"/>${text(wire.x + 6, -wire.length + wire.labelAt, 'ft-wire-label ft-mono', `eth0 ${node.underlayIP}`)}</g>`;
  return `<g ${attrs.join(' ')} transform="translate(${n(box.x)},${n(box.y)})">${eth0}<g class="ft-card${dim}">${inner}</g></g>`;
}

/** A link's label as a tag on its line, centred on (x, y). */
function tag(x: number, y: number, kind: Kind, label: string): string {
  const w = textWidth(label, 11, 'mono') + 10;
  return `<rect class="ft-tag ft-${kind}" x="${n(x - w / 2)}" y="${n(y - 8)}" width="${n(w)}" height="16" rx="3"/>${text(x, y + 4, `ft-tag-text ft-${kind}-text ft-mono`, label, 'middle')}`;
}

interface Legend {
  readonly height: number;
  draw(x: number, y: number): string;
}

function legend(s: LabSnapshot, width: number, big: boolean, fewLabels: boolean): Legend {
  const counts = Object.fromEntries(KINDS.map((k) => [k, s.links.filter((l) => l.kind === k).length])) as Record<Kind, number>;
  const nn = s.nodes.length;
  const device = OVERLAY_DEVICE[s.lab.backend];
  const swatches: Array<{ kind: string; label: string; w: number }> = [
    { kind: 'tunnel', label: `tunnel (a route into ${device ?? 'the overlay device'})` },
    { kind: 'route', label: "host route via the peer's eth0" },
    { kind: 'missing', label: 'missing: no route of the fabric' },
    { kind: 'stopped', label: 'flanneld stopped' },
    { kind: 'fault', label: 'fault injected by lab break' },
  ].map((i) => ({ ...i, w: 40 + textWidth(i.label, 12) + 24 }));
  const rows: Array<typeof swatches> = [[]];
  let used = 0;
  for (const sw of swatches) {
    if (used + sw.w > width && used > 0) {
      rows.push([]);
      used = 0;
    }
    rows[rows.length - 1]?.push(sw);
    used += sw.w;
  }
  const countLine = `${nn}×${Math.max(0, nn - 1)} links: ${counts.tunnel} tunnel, ${counts.route} route, ${counts.missing} missing${big ? ` (more than ${MESH_LIMIT} nodes: only the missing links are drawn)` : fewLabels ? ' (labelled: the missing links and what differs from the legend)' : ''}`;
  const labLine = [
    `backend ${s.lab.backend}${s.lab.directRouting ? ' (DirectRouting)' : ''}`,
    `network ${s.lab.network || '?'}`,
    `underlay ${s.lab.underlay}`,
    s.lab.nftables ? 'nftables' : 'iptables',
    ...(s.lab.etcd.length ? [`etcd ${s.lab.etcd.join(', ')}`] : []),
  ].join(' · ');
  const height = rows.length * 22 + 2 * 20;
  const draw = (x: number, y: number): string => {
    const out: string[] = ['<g class="ft-legend">'];
    rows.forEach((row, r) => {
      let cx = x;
      const cy = y + r * 22 + 8;
      for (const sw of row) {
        if (sw.kind === 'stopped') out.push(`<rect class="ft-node-box ft-stopped" x="${n(cx)}" y="${n(cy - 7)}" width="30" height="14" rx="3"/>`);
        else if (sw.kind === 'fault') out.push(`<rect class="ft-badge-box" x="${n(cx)}" y="${n(cy - 7)}" width="30" height="14" rx="3"/>`);
        else out.push(`<path class="ft-link-line ft-${sw.kind}" d="M${n(cx)},${n(cy)} H${n(cx + 30)}"/>`);
        out.push(text(cx + 40, cy + 4, 'ft-legend-text', sw.label));
        cx += sw.w;
      }
    });
    const ly = y + rows.length * 22 + 12;
    out.push(text(x, ly, 'ft-legend-strong', countLine));
    out.push(text(x, ly + 20, 'ft-legend-text', labLine));
    out.push('</g>');
    return out.join('');
  };
  return { height, draw };
}

/** Whether an arc of a mesh of `pairs` carries its label: all of a small mesh; in a bigger one only
 * what the legend does not already say (missing links, a device other than the backend's). */
function arcLabelled(p: Pair, label: string, pairs: number, device: string | undefined): boolean {
  return pairs <= 15 || p.kind === 'missing' || (p.kind === 'tunnel' && label !== device);
}

/**
 * The picture of `snapshot` as a complete SVG document. The same snapshot gives the same string
 * (no clock, no randomness; ELK's packing is deterministic).
 */
export async function renderTopologySvg(snapshot: LabSnapshot): Promise<string> {
  const nodes = snapshot.nodes;
  const big = nodes.length > MESH_LIMIT;
  const byName = new Map(nodes.map((x, i) => [x.name, i]));
  const pairs = pairLinks(snapshot.links, nodes.map((x) => x.name));
  const device = OVERLAY_DEVICE[snapshot.lab.backend];
  const missing = new Map<string, number>();
  for (const p of pairs) if (p.kind === 'missing') for (const end of [p.a, p.b]) missing.set(end, (missing.get(end) ?? 0) + 1);
  const podsOf = new Map<string, SnapshotPod[]>();
  for (const p of snapshot.pods) podsOf.set(p.node, [...(podsOf.get(p.node) ?? []), p]);
  const cards = nodes.map((node) => {
    const input: CardInput = { node, pods: podsOf.get(node.name) ?? [], backend: snapshot.lab.backend, missing: big ? (missing.get(node.name) ?? 0) : 0 };
    return big ? compactCard(input) : fullCard(input);
  });
  const cardW = Math.max(0, ...cards.map((c) => c.width));
  const gapX = big ? 28 : 56;
  const gapY = big ? 46 : 0;
  const tallest = Math.max(0, ...cards.map((c) => c.height));
  // As many rows as the aspect asks, then as few columns as fill them (100 nodes: 10×10, not 11+…+1).
  const rowCount = big ? Math.ceil(nodes.length / columnsFor(nodes.length, { width: cardW + gapX, height: tallest + gapY }, 1.6)) : 1;
  const columns = Math.max(1, Math.ceil(nodes.length / rowCount));
  const laid = await gridLayout(
    cards.map((c) => ({ width: cardW, height: c.height })),
    { columns, gapX, gapY },
  );

  // Under the title the switch, then the boxes; every box of a row as high as the row.
  const swY = MARGIN + 56;
  const swH = 36;
  const top = swY + swH + (big ? 46 : 56);
  const left = MARGIN + (big ? 24 : 8);
  const boxes: Box[] = new Array<Box>(laid.length);
  const rows = rowsOf(laid.map((b, i) => ({ ...b, i })));
  for (const row of rows) {
    const h = Math.max(...row.map((b) => b.height));
    for (const b of row) boxes[b.i] = { x: left + b.x, y: top + b.y, width: b.width, height: h };
  }
  const gridRight = Math.max(left + 400, ...boxes.map((b) => b.x + b.width));
  const gridBottom = Math.max(top, ...boxes.map((b) => b.y + b.height));
  const width = Math.ceil(Math.max(gridRight + MARGIN, 760));

  // The switch: a bar over the row; for a grid also a trunk down its left and a bus over every row.
  const swX = big ? MARGIN : left;
  const sw: string[] = [
    `<rect class="ft-switch-bar" x="${n(swX)}" y="${n(swY)}" width="${n(gridRight - swX)}" height="${swH}" rx="6"/>`,
    text(swX + 14, swY + 23, 'ft-switch-text', fitText(`switch · bridge br0 · underlay ${snapshot.lab.underlay}`, 13, gridRight - swX - 28, 'bold')),
  ];
  const busOf = (b: Box): number => (big ? b.y - 26 : swY + swH);
  if (big) {
    const trunkX = MARGIN + 8;
    const busYs = [...new Set(boxes.map(busOf))];
    sw.push(`<path class="ft-bus" d="M${n(trunkX)},${n(swY + swH)} V${n(Math.max(...busYs))}"/>`);
    for (const y of busYs) sw.push(`<path class="ft-bus" d="M${n(trunkX)},${n(y)} H${n(gridRight)}"/>`);
  }
  const wireOf = (b: Box): Wire => (big ? { x: 16, length: b.y - busOf(b), labelAt: 16 } : { x: b.width / 2, length: b.y - busOf(b), labelAt: 32 });

  // The links: arcs under the row (every pair), or bowed lines across the grid (the missing ones).
  const links: string[] = [];
  const labels: string[] = [];
  let linksBottom = gridBottom;
  if (!big) {
    const drawn = [...pairs].sort((x, y) => SEVERITY[x.kind] - SEVERITY[y.kind]);
    const pitch = cardW + gapX;
    const peersOf = new Map<number, number[]>();
    for (const p of drawn) {
      const [ia = 0, ib = 0] = [byName.get(p.a), byName.get(p.b)];
      peersOf.set(ia, [...(peersOf.get(ia) ?? []), ib]);
      peersOf.set(ib, [...(peersOf.get(ib) ?? []), ia]);
    }
    // Each peer its own point on the box's bottom, in the peers' order: arcs nest, never share an end.
    const anchor = (i: number, peer: number): number => {
      const peers = [...(peersOf.get(i) ?? [])].sort((x, y) => x - y);
      const b = boxes[i];
      return b ? b.x + b.width * (0.12 + (0.76 * (peers.indexOf(peer) + 0.5)) / peers.length) : 0;
    };
    for (const p of drawn) {
      const [ia = 0, ib = 0] = [byName.get(p.a), byName.get(p.b)];
      // Arcs of one span stand a pitch apart and spans 24 px deep apart: their labels never meet.
      const depth = 30 + (Math.abs(ia - ib) - 1) * 24;
      const [xa, xb] = [anchor(ia, ib), anchor(ib, ia)];
      const label = fitText(pairLabel(p, device ?? 'overlay'), 11, pitch - 30, 'mono');
      const d = arcPath({ x: xa, y: gridBottom }, { x: xb, y: gridBottom }, depth);
      links.push(linkGroup(p, `<path class="ft-link-line ft-${p.kind}" d="${d}"/>`));
      if (arcLabelled(p, label, drawn.length, device)) labels.push(labelGroup(p, tag((xa + xb) / 2, gridBottom + depth, p.kind, label)));
      linksBottom = Math.max(linksBottom, gridBottom + depth + 10);
    }
  } else {
    const drawn = pairs.filter((p) => p.kind === 'missing');
    for (const p of drawn) {
      const [a, b] = [boxes[byName.get(p.a) ?? -1], boxes[byName.get(p.b) ?? -1]];
      if (!a || !b) continue;
      const { path, middle } = bowedLink(a, b);
      // Past 30 the labels would cover the grid; the boxes say how many of their links are missing.
      links.push(linkGroup(p, `<path class="ft-link-line ft-missing" d="${path}"/>`));
      if (drawn.length <= 30) labels.push(labelGroup(p, tag(middle.x, middle.y, 'missing', pairLabel(p, device ?? 'overlay'))));
    }
  }

  const leg = legend(snapshot, width - 2 * MARGIN, big, !big && pairs.length > 15);
  const legendY = linksBottom + 28;
  const height = Math.ceil(legendY + leg.height + MARGIN);
  const podCount = snapshot.pods.filter((p) => byName.has(p.node)).length;
  const title = `flannel lab "${snapshot.lab.name}": ${nodes.length} node${nodes.length === 1 ? '' : 's'}, ${podCount} pod${podCount === 1 ? '' : 's'}, backend ${snapshot.lab.backend}`;
  const nodeMarkup = nodes.map((node, i) => {
    const box = boxes[i] ?? { x: 0, y: 0, width: 0, height: 0 };
    return nodeGroup(node, box, wireOf(box), cards[i]?.draw(box.width, box.height) ?? '');
  });
  const dense = !big && pairs.length > 15;
  const linkLayer = `<g class="ft-links${dense ? ' ft-dense' : ''}">${links.join('')}</g><g class="ft-link-labels">${labels.join('')}</g>`;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="flannel-topology" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(SANS)}" data-nodes="${nodes.length}" data-backend="${esc(snapshot.lab.backend)}">`,
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    text(MARGIN, MARGIN + 18, 'ft-title', fitText(title, 18, width - 2 * MARGIN, 'bold')),
    text(MARGIN, MARGIN + 40, 'ft-sub', fitText(`snapshot ${snapshot.takenAt} · state ${snapshot.lab.stateDir}`, 13, width - 2 * MARGIN)),
    `<g class="switch">${sw.join('')}</g>`,
    // Under a row the arcs go first; across a grid the lines go over the boxes, or the boxes would hide them.
    ...(big ? [] : [linkLayer]),
    `<g class="ft-nodes">${nodeMarkup.join('')}</g>`,
    ...(big ? [linkLayer] : []),
    leg.draw(MARGIN, legendY),
    '</svg>',
    '',
  ].join('\n');
}
