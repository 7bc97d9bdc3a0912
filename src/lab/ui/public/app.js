// The `lab ui` page: renders the lab's snapshot (server-sent on every change), the topology SVG
// the server draws, the matrix and doctor actions, and the packet path of a chosen pod pair.
// Plain browser JavaScript, served as is. Data goes into the DOM as text, never as markup; the
// one exception is the SVG, which the server builds with every text escaped.

const $ = (id) => document.getElementById(id);
const ACTION = { method: 'POST', headers: { 'x-flannel-lab-ui': '1' } };

let snapshot = null;
let traced = null; // { from, to } of the path on display

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function table(target, head, rows) {
  target.replaceChildren(el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))), el('tbody', {}, rows));
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : 'never');

function renderHeader(s) {
  const l = s.lab;
  $('lab-name').textContent = `"${l.name}"`;
  $('lab-summary').textContent =
    `${s.nodes.length} node${s.nodes.length === 1 ? '' : 's'}, ${s.pods.length} pod${s.pods.length === 1 ? '' : 's'} · backend ${l.backend}${l.directRouting ? ' (DirectRouting)' : ''} · network ${l.network} · underlay ${l.underlay} · ${l.nftables ? 'nftables' : 'iptables'} · etcd ${l.etcd.join(', ')}`;
  $('live').textContent = `live · read at ${time(s.takenAt)}`;
  $('live').className = 'live on';
}

function renderNodes(s) {
  const title = s.nodes[0]?.identity.title ?? 'IDENTITY';
  table($('nodes'), ['node', 'namespace', 'underlay IP', 'FLANNEL_SUBNET', 'MTU', title, 'flanneld', 'faults'],
    s.nodes.map((n) =>
      el('tr', { 'data-node': n.name, class: n.flanneld === 'running' ? '' : 'stopped' },
        el('td', {}, n.name), el('td', {}, n.ns), el('td', {}, n.underlayIP), el('td', {}, n.subnet ?? '(none)'),
        el('td', {}, n.mtu ?? '-'), el('td', { class: 'mono' }, n.identity.value), el('td', { class: n.flanneld === 'running' ? 'ok' : 'bad' }, n.flanneld),
        el('td', { class: n.faults.length ? 'bad' : '' }, n.faults.join(', ') || '-'))));
}

function renderPods(s) {
  table($('pods'), ['pod', 'node', 'namespace', 'IP'],
    s.pods.map((p) => el('tr', { 'data-pod': p.name }, el('td', {}, p.name), el('td', {}, p.node), el('td', {}, p.ns), el('td', {}, p.ip))));
}

function renderLinks(s) {
  const rows = s.nodes.map((a) =>
    el('tr', {}, el('th', {}, a.name), s.nodes.map((b) => {
      if (a.name === b.name) return el('td', { class: 'self' }, '—');
      const link = s.links.find((x) => x.from === a.name && x.to === b.name);
      if (!link) return el('td', { class: 'unknown', title: `${b.name} has no subnet yet` }, '?');
      return el('td', { class: `link ${link.kind}`, 'data-from': a.name, 'data-to': b.name, 'data-kind': link.kind, title: [link.route || 'no route', link.peer].filter(Boolean).join('\n') }, link.kind);
    })));
  table($('links'), ['from \\ to', ...s.nodes.map((n) => n.name)], rows);
}

/** Above this many pods the page lists the failing pairs instead of drawing the table. */
const MATRIX_TABLE_PODS = 30;

function renderMatrix(s) {
  const m = s.matrix;
  const ok = m.cells.filter((c) => c.icmp && c.tcp).length;
  const nodesOk = m.nodes.filter((c) => c.icmp).length;
  const what = m.mode === 'sampled' ? `a sample of ${m.cells.length} of the ${m.total} pod pairs, spread over the nodes` : 'every pod to every other pod';
  $('matrix-info').textContent = m.at
    ? `Probed at ${time(m.at)} (ICMP and TCP, ${what}, as "lab check" does): ${ok}/${m.cells.length} pod pairs reachable; ${nodesOk}/${m.nodes.length} node pairs (each node to every other node's cni0).`
    : 'Not probed yet: "Probe again" runs lab check.';
  if (s.pods.length > MATRIX_TABLE_PODS) {
    const failed = m.cells.filter((c) => !(c.icmp && c.tcp));
    table($('matrix'), ['from', 'to', 'ICMP', 'TCP'],
      failed.map((c) => el('tr', {}, el('td', {}, c.from), el('td', {}, c.to), el('td', { class: c.icmp ? 'ok' : 'bad' }, c.icmp ? 'ok' : 'FAIL'), el('td', { class: c.tcp ? 'ok' : 'bad' }, c.tcp ? 'ok' : 'FAIL'))));
    return;
  }
  const rows = s.pods.map((a) =>
    el('tr', {}, el('th', {}, a.name), s.pods.map((b) => {
      if (a.name === b.name) return el('td', { class: 'self' }, '—');
      const c = m.cells.find((x) => x.from === a.name && x.to === b.name);
      if (!c) return el('td', { class: 'unknown', 'data-from': a.name, 'data-to': b.name }, '·');
      const mark = (v) => (v ? 'ok' : 'FAIL');
      return el('td', { class: c.icmp && c.tcp ? 'ok' : 'bad', 'data-from': a.name, 'data-to': b.name, 'data-icmp': c.icmp, 'data-tcp': c.tcp }, `${mark(c.icmp)}/${mark(c.tcp)}`);
    })));
  table($('matrix'), ['from \\ to (ICMP/TCP)', ...s.pods.map((p) => p.name)], rows);
}

function doctorRow(r) {
  return el('tr', { class: `doctor-${r.status}`, 'data-node': r.node, 'data-check': r.id, 'data-status': r.status },
    el('td', {}, r.node), el('td', { class: r.status }, r.status), el('td', { class: 'mono' }, r.id), el('td', {}, r.saw), el('td', { class: 'mono' }, r.status !== 'ok' && r.fix ? r.fix : ''));
}

function renderDoctor(s) {
  const d = s.doctor;
  if (!d) {
    $('doctor-info').textContent = 'doctor is running on every node…';
    $('doctor-problems').replaceChildren();
    $('doctor').replaceChildren();
    return;
  }
  const sum = d.report.summary;
  const results = d.report.nodes.flatMap((n) => n.results);
  const problems = results.filter((r) => r.status === 'fail' || r.status === 'warn');
  problems.sort((a, b) => (a.status === b.status ? 0 : a.status === 'fail' ? -1 : 1));
  $('doctor-info').textContent = `At ${time(d.at)} on ${d.report.nodes.length} node${d.report.nodes.length === 1 ? '' : 's'}: ${sum.ok} ok, ${sum.warn} warn, ${sum.fail} fail, ${sum.skip} skip. ${problems.length ? 'What failed or warns, with the fix to run on that node ("lab exec <node> -- <fix>"):' : 'Nothing failed.'}`;
  const head = ['node', 'status', 'check', 'saw', 'fix'];
  if (problems.length) table($('doctor-problems'), head, problems.map(doctorRow));
  else $('doctor-problems').replaceChildren();
  $('doctor-all').textContent = `every check of every node (${results.length})`;
  table($('doctor'), head, results.map(doctorRow));
}

function renderPathChoices(s) {
  for (const [id, pick] of [['path-from', 0], ['path-to', 1]]) {
    const select = $(id);
    const was = select.value;
    select.replaceChildren(...s.pods.map((p) => el('option', { value: p.name }, `${p.name} (${p.ip})`)));
    const other = s.pods.find((p) => p.node !== s.pods[0]?.node) ?? s.pods[1];
    const preferred = pick === 0 ? s.pods[0]?.name : other?.name;
    select.value = s.pods.some((p) => p.name === was) ? was : (preferred ?? '');
  }
}

async function renderTopology() {
  const r = await fetch('/api/topology.svg');
  if (!r.ok) return;
  $('topology').innerHTML = await r.text();
  for (const g of $('topology').querySelectorAll('[data-pod]')) {
    g.addEventListener('click', () => pickPod(g.getAttribute('data-pod')));
  }
}

let nextPick = 'path-from';
function pickPod(name) {
  $(nextPick).value = name;
  if (nextPick === 'path-to') void trace($('path-from').value, name);
  nextPick = nextPick === 'path-from' ? 'path-to' : 'path-from';
}

async function trace(from, to) {
  if (!from || !to) return;
  $('path-info').textContent = `tracing ${from} → ${to}…`;
  const r = await fetch(`/api/path?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  const body = await r.json();
  if (!r.ok) {
    $('path-info').textContent = body.error;
    $('hops').replaceChildren();
    return;
  }
  traced = { from, to };
  const broken = body.hops.find((h) => !h.ok);
  $('path-info').textContent = body.complete
    ? `${from} → ${to}: ${body.hops.length} hops, complete (read at ${new Date().toLocaleTimeString()}).`
    : `${from} → ${to}: the path breaks at ${broken ? `${broken.at}: ${broken.step}` : 'an unknown hop'}.`;
  $('path-info').dataset.complete = String(body.complete);
  $('hops').replaceChildren(...body.hops.map((h) =>
    el('li', { class: `hop ${h.ok ? 'ok' : 'broken'}`, 'data-step': h.step, 'data-at': h.at, 'data-ok': h.ok },
      el('div', { class: 'hop-head' }, el('span', { class: 'at' }, h.at), el('span', { class: 'step' }, h.step), el('span', { class: 'summary' }, h.summary)),
      el('code', {}, h.command),
      el('pre', {}, h.object || '(nothing)'))));
}

function render(s) {
  const topologyChanged = !snapshot || JSON.stringify([snapshot.nodes, snapshot.pods, snapshot.links]) !== JSON.stringify([s.nodes, s.pods, s.links]);
  snapshot = s;
  $('down').hidden = true;
  renderHeader(s);
  renderNodes(s);
  renderPods(s);
  renderLinks(s);
  renderMatrix(s);
  renderDoctor(s);
  renderPathChoices(s);
  if (topologyChanged) {
    void renderTopology();
    // The first view shows a path at once: the first pod to a pod on another node.
    if (!traced && s.pods.length > 1) traced = { from: $('path-from').value, to: $('path-to').value };
    if (traced && s.pods.some((p) => p.name === traced.from) && s.pods.some((p) => p.name === traced.to)) void trace(traced.from, traced.to);
  }
}

async function action(button, path, busy) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busy;
  try {
    const r = await fetch(path, ACTION);
    if (!r.ok) throw new Error((await r.json()).error);
  } catch (err) {
    $('live').textContent = `${path} failed: ${err.message}`;
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

$('probe').addEventListener('click', () => void action($('probe'), '/api/check', 'probing…'));
$('run-doctor').addEventListener('click', () => void action($('run-doctor'), '/api/doctor', 'running…'));
$('path-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void trace($('path-from').value, $('path-to').value);
});

const events = new EventSource('/api/events');
events.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
events.addEventListener('down', (e) => {
  $('down').hidden = false;
  $('down').textContent = JSON.parse(e.data).message;
  $('live').textContent = 'lab is down';
  $('live').className = 'live off';
});
events.addEventListener('error', () => {
  $('live').textContent = 'disconnected from lab ui (is it still running?); retrying…';
  $('live').className = 'live off';
});
