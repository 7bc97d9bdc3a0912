/**
 * The benchmark report: one JSON document (latest.json) and a Markdown summary (latest.md) with
 * every metric beside its floor, the ratio, and pass/miss for the targets of issue #6.
 */
import type { CniResult } from './cni.ts';
import type { BackendControlPlane } from './convergence.ts';
import type { BenchOptions } from './context.ts';
import type { ProfileSummary } from './profile.ts';
import { dataPlaneBackend } from './dataplane-backends.ts';
import { isSkipped, type BackendThroughput, type ThroughputRow } from './throughput.ts';

export interface Target {
  id: string;
  what: string;
  measured: string;
  value: number | null;
  limit: string;
  /** null: not measured in this run. */
  pass: boolean | null;
  /** Compared with a number measured elsewhere (not run here): shown, not a goal of this run. */
  informational?: true;
}

export interface BenchReport {
  schema: 1;
  /** The run's namespace prefix. */
  runId: string;
  mode: 'full' | 'smoke';
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  git: { commit: string; dirtyFiles: number };
  build: string;
  options: Omit<BenchOptions, 'sections' | 'outDir'> & { sections: string[] };
  controlPlane: BackendControlPlane[];
  cni?: CniResult;
  throughput: ThroughputRow[];
  profiles: ProfileSummary[];
  targets: Target[];
  notes: string[];
}

const fmt = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

export function evaluateTargets(r: Pick<BenchReport, 'controlPlane' | 'cni' | 'throughput'>): Target[] {
  const targets: Target[] = [];
  for (const cp of r.controlPlane) {
    const big = [...cp.sizes].sort((a, b) => b.n - a.n)[0];
    targets.push({
      id: `convergence-${cp.backend}`,
      what: `convergence at N = ${big?.n ?? 5000} (${cp.backend}), kernel programming vs ip/bridge -batch`,
      measured: big ? `${fmt(big.ours.kernelMedianMs)} ms vs ${fmt(big.floor.medianMs)} ms` : 'not measured',
      value: big ? big.ratioKernel : null,
      limit: '≤ 1.3x',
      pass: big ? big.ratioKernel <= 1.3 : null,
    });
  }
  const lat = r.controlPlane.find((c) => c.latency)?.latency;
  targets.push({
    id: 'lease-latency-p99',
    what: `single new lease → route, p99 (vxlan, N = ${lat?.n ?? 1000}, ${lat?.events ?? 200} events)`,
    measured: lat ? `p99 ${fmt(lat.routeMs.p99)} ms (p50 ${fmt(lat.routeMs.p50)} ms)` : 'not measured',
    value: lat ? lat.routeMs.p99 : null,
    limit: '≤ 20 ms',
    pass: lat ? lat.routeMs.p99 <= 20 && lat.timeouts === 0 : null,
  });
  targets.push({
    id: 'cni-add-median',
    what: 'CNI ADD median above the floor (bridge alone + an empty compiled bun program): our own code',
    measured: r.cni
      ? `${fmt(r.cni.add.ours.p50, 2)} ms vs ${fmt(r.cni.add.floor.p50, 2)} ms, per pod ${fmt(r.cni.add.overPerPodP50, 2)} ms above (DEL: ${fmt(r.cni.del.ours.p50, 2)} vs ${fmt(r.cni.del.floor.p50, 2)} ms, per pod ${fmt(r.cni.del.overPerPodP50, 2)} ms above)`
      : 'not measured',
    value: r.cni ? r.cni.add.overPerPodP50 : null,
    limit: r.cni ? `≤ ${r.cni.targetMs} ms` : '≤ 0.5 ms',
    pass: r.cni ? r.cni.add.pass : null,
  });
  for (const t of r.throughput) targets.push(throughputTarget(t));
  for (const cp of r.controlPlane) {
    const loaded = cp.resources.loaded;
    targets.push({
      id: `rss-${cp.backend}`,
      what: `flanneld RSS with ${loaded?.peers ?? 5000} peers (${cp.backend})`,
      measured: loaded ? `${fmt(loaded.rssMinMiB)}–${fmt(loaded.rssMaxMiB)} MiB over ${fmt(loaded.windowMs / 1000, 0)} s (peak since start ${fmt(loaded.hwmMiB)} MiB)` : 'not measured',
      value: loaded ? loaded.rssMaxMiB : null,
      limit: '≤ 80 MiB',
      pass: loaded ? loaded.rssMaxMiB <= 80 : null,
    });
  }
  return targets;
}

/** A throughput row against its backend's target (dataplane-backends.ts). */
function throughputTarget(t: ThroughputRow): Target {
  const target = dataPlaneBackend(t.backend).target;
  const id = `throughput-${t.backend}`;
  const what = `${t.backend} throughput pod → pod vs hand-built pods over ${t.floorKind}`;
  if (target.kind === 'reference') {
    const limit = `≥ ${target.gbps} Gbit/s (${target.what}; not run here: informational)`;
    if (isSkipped(t)) return { id, what, measured: `not measured: ${t.skipped}`, value: null, limit, pass: null, informational: true };
    const pps = t.podToPod.packets ? `, ${t.podToPod.packets.perSecond.toLocaleString('en-US')} packets/s` : '';
    return {
      id,
      what: `${what} (ratio); pod → pod vs ${target.gbps} Gbit/s, ${target.what}`,
      measured: `${fmt(t.podToPod.gbps, 2)} vs ${fmt(t.podFloor.gbps, 2)} Gbit/s${pps}; ${fmt(t.podToPod.gbps / target.gbps, 2)}x the reference`,
      value: t.ratioPod,
      limit,
      pass: t.podToPod.gbps >= target.gbps,
      informational: true,
    };
  }
  const limit = `≥ ${target.min}x`;
  if (isSkipped(t)) return { id, what, measured: `not measured: ${t.skipped}`, value: null, limit, pass: null };
  return { id, what, measured: `${fmt(t.podToPod.gbps, 2)} vs ${fmt(t.podFloor.gbps, 2)} Gbit/s`, value: t.ratioPod, limit, pass: t.ratioPod >= target.min };
}

const verdict = (t: Pick<Target, 'pass' | 'informational'>): string => {
  if (t.informational) return t.pass === null ? 'n/a (informational)' : t.pass ? 'above (informational)' : 'below (informational)';
  return t.pass === null ? 'n/a' : t.pass ? '**pass**' : '**MISS**';
};

const packetsCell = (t: BackendThroughput): string => (t.podToPod.packets ? `${t.podToPod.packets.perSecond.toLocaleString('en-US')} (${t.podToPod.packets.device})` : '–');

export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  const line = (s = ''): void => {
    out.push(s);
  };
  line(`# flannel-ts benchmarks${r.mode === 'smoke' ? ' (smoke run: tiny sizes, not performance numbers)' : ''}`);
  line();
  line(`Run ${r.startedAt} (${Math.round(r.durationS)} s), commit ${r.git.commit.slice(0, 12)}${r.git.dirtyFiles ? ` + ${r.git.dirtyFiles} changed files` : ''}; ${r.build}.`);
  line(`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Linux ${r.machine.kernel}, Node ${r.machine.node}; load average ${r.machine.loadAvgStart.map((x) => x.toFixed(2)).join(' ')} at start, ${r.machine.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')} at the end.`);
  line('Every metric is compared with a floor measured in the same run, so ratios survive a noisy machine better than absolute numbers. `npm run bench` regenerates this file (see bench/README.md).');
  line();
  line('## Targets');
  line();
  line('| target | measured | ratio / value | limit | result |');
  line('| --- | --- | --- | --- | --- |');
  for (const t of r.targets) line(`| ${t.what} | ${t.measured} | ${fmt(t.value, 2)} | ${t.limit} | ${verdict(t)} |`);
  line();

  if (r.controlPlane.some((c) => c.sizes.length > 0)) {
    line('## Control-plane convergence');
    line();
    line('N fake peer leases in etcd, then flanneld started in a fresh node namespace; done when every route (and, for vxlan, neighbour and FDB entry) of every peer is in that namespace\'s kernel (watched with rtnetlink notifications and confirmed with dumps by an agent in the namespace). Floor: the same objects with `ip -batch` (neighbours, routes) and `bridge -batch` (FDB) in a fresh namespace, alternating with our runs. Medians of the iterations.');
    line();
    line('| backend | N | floor | ours: programming | ratio | ours: from spawn | ratio | boot | lease/startup | etcd read | plan + log | kernel |');
    line('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const cp of r.controlPlane) {
      for (const s of cp.sizes) {
        const med = (k: 'bootMs' | 'startupMs' | 'etcdReadMs' | 'planMs'): string => {
          const xs = s.ours.runs.map((x) => x.split[k]).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
          return xs.length ? fmt(xs[Math.floor((xs.length - 1) / 2)]) : '–';
        };
        line(
          `| ${cp.backend} | ${s.n} | ${fmt(s.floor.medianMs)} ms | ${fmt(s.ours.kernelMedianMs)} ms | ${fmt(s.ratioKernel, 2)}x | ${fmt(s.ours.totalMedianMs)} ms | ${fmt(s.ratioTotal, 2)}x | ${med('bootMs')} | ${med('startupMs')} | ${med('etcdReadMs')} | ${med('planMs')} | ${fmt(s.ours.kernelMedianMs)} |`,
        );
      }
    }
    line();
    line('Split (ms, from flanneld\'s log and the agent): *boot* spawn → first log line; *lease/startup* → subnet.env written (config, lease, device, rules); *etcd read* → first "Subnet added" (list + one TTL lookup per etcd lease + decode); *plan + log* → first peer object in the kernel (per-peer log lines, planning, device checks, kernel dumps); *kernel* → last peer object.');
    line();
  }
  const lat = r.controlPlane.find((c) => c.latency)?.latency;
  if (lat) {
    line(`## Single new lease → route (vxlan, N = ${lat.n})`);
    line();
    line('One lease at a time is put into etcd by the agent in the node namespace, which also listens for the route notification (same process, same clock); 20–60 ms between events.');
    line();
    line('| | p50 | p99 | max | events | timeouts |');
    line('| --- | ---: | ---: | ---: | ---: | ---: |');
    line(`| put issued → route in kernel | ${fmt(lat.routeMs.p50, 2)} ms | ${fmt(lat.routeMs.p99, 2)} ms | ${fmt(lat.routeMs.max, 2)} ms | ${lat.events} | ${lat.timeouts} |`);
    line(`| put issued → etcd answered | ${fmt(lat.putMs.p50, 2)} ms | ${fmt(lat.putMs.p99, 2)} ms | ${fmt(lat.putMs.max, 2)} ms | | |`);
    line();
    line(`Slowest events (latency @ seconds after flanneld started; flanneld re-checks every peer every 10 s): ${lat.slowest.map((s) => `${fmt(s.routeMs)} ms @ ${fmt(s.atS, 2)} s`).join(', ')}.`);
    line();
  }
  if (r.cni) {
    const c = r.cni;
    line(`## CNI ADD/DEL latency (${c.pods} pods)`);
    line();
    line(
      'Full plugin call: the compiled `flannel` plugin with its bridge + host-local delegates. Floor: `/usr/lib/cni/bridge` run directly with the delegate configuration the plugin saved for the same pod, plus the start-up of an empty program compiled with the plugin\'s flags (`scripts/build-cni.mjs --empty`), summed per pod: what any compiled bun plugin pays. What is left is our own code: *ours − floor* of the medians and of the p99s, and *per pod*, the median over the pods of each pod\'s own difference (less moved by a load change during the run), which the target (≤ ' +
        `${c.targetMs} ms, ADD and DEL alike) is checked on. Timed inside the node namespace; per pod the plugin, bridge alone and the empty program run one after the other.`,
    );
    line();
    line('| | ours p50 | ours p99 | bridge p50 | empty bun p50 | floor p50 | floor p99 | ours − floor p50 | ours − floor p99 | ours − floor per pod p50 | ratio p50 | target | result |');
    line('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const [name, x] of [['ADD', c.add], ['DEL', c.del]] as const) {
      line(
        `| ${name} | ${fmt(x.ours.p50, 2)} ms | ${fmt(x.ours.p99, 2)} ms | ${fmt(x.bridge.p50, 2)} ms | ${fmt(x.bun.p50, 2)} ms | ${fmt(x.floor.p50, 2)} ms | ${fmt(x.floor.p99, 2)} ms | ` +
          `${fmt(x.overP50, 2)} ms | ${fmt(x.overP99, 2)} ms | ${fmt(x.overPerPodP50, 2)} ms | ${fmt(x.ratioP50, 2)}x | ≤ ${c.targetMs} ms | ${x.pass ? '**pass**' : '**MISS**'} |`,
      );
    }
    line();
  }
  if (r.throughput.length) {
    line('## Throughput (iperf3 TCP, best of runs)');
    line();
    line(
      'All between the same two node namespaces (pods: one per node, through the CNI plugin). Floors are hand-built in the same namespaces: a kernel VXLAN device pair (vxlan: the same MTU; udp: the MTU a VXLAN fits in, 1450), static routes (host-gw, extension), a wireguard-go tunnel per node with the same MTU as flannel-wg (wireguard), an ipip device pair (ipip); the *pod* floor adds hand-built pods with the same plumbing as the CNI\'s (a veth into a bridge on each node), so pod/pod-floor compares like with like. *node → node* is node1 → node2\'s cni0 address over flannel\'s route. *packets/s*: tx_packets of flanneld\'s device on both nodes around the best pod → pod run, so each packet once (data one way, ACKs the other); kernel devices with segmentation offload (flannel.1, eth0) count a super-packet of up to 64 KiB once, TUN devices (flannel0, flannel-wg) see wire-sized packets.',
    );
    line();
    line('| backend | floor | pod → pod | hand-built pod → pod | ratio | node → node (flannel) | node → node floor | ratio | bare veth | MTU | packets/s pod → pod | flannel.1 tx checksum offload |');
    line('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const t of r.throughput) {
      if (isSkipped(t)) {
        line(`| ${t.backend} | ${t.floorKind} | not measured: ${t.skipped} | – | – | – | – | – | – | – | – | – |`);
        continue;
      }
      const mtu = `${t.mtu.flannel ?? '–'}${t.mtu.floor !== undefined && t.mtu.floor !== t.mtu.flannel ? ` (floor ${t.mtu.floor})` : ''}`;
      line(
        `| ${t.backend} | ${t.floorKind} | ${fmt(t.podToPod.gbps, 2)} | ${fmt(t.podFloor.gbps, 2)} | ${fmt(t.ratioPod, 2)}x | ${fmt(t.nodeToNode.gbps, 2)} | ${fmt(t.floor.gbps, 2)} | ${fmt(t.ratioNode, 2)}x | ${fmt(t.bareVeth.gbps, 2)} | ${mtu} | ${packetsCell(t)} | ${t.txChecksumOffload ?? '–'} |`,
      );
    }
    line();
    line('Gbit/s.');
    line();
    for (const t of r.throughput) {
      if (isSkipped(t)) {
        line(`Not measured (${t.backend}): ${t.skipped} (${t.detail.replace(/\.$/, '')}).`);
        line();
        continue;
      }
      const context = dataPlaneBackend(t.backend).context;
      if (context) {
        line(`Context (${t.backend}): ${context}`);
        line();
      }
      if (t.podToPodOffloadOn) {
        line(`Diagnostic (${t.backend}): pod → pod with flannel.1's TX checksum offload turned back on (\`ethtool -K flannel.1 tx-checksum-ip-generic on\` on both nodes): ${fmt(t.podToPodOffloadOn.gbps, 2)} Gbit/s, ${fmt(t.podFloor.gbps > 0 ? t.podToPodOffloadOn.gbps / t.podFloor.gbps : NaN, 2)}x the hand-built pod floor.`);
        line();
      }
    }
  }
  if (r.controlPlane.some((c) => c.resources.idle || c.resources.loaded)) {
    line('## flanneld memory and CPU');
    line();
    line('VmRSS sampled every second over the window (after a settle time), VmHWM since start, CPU time (utime + stime) since start and over the window. RSS moves with V8\'s garbage collection; flanneld hands the memory of a burst of kernel work back as soon as the burst ends, and again whenever quiet passes have promoted 2 MiB of garbage (src/daemon/heap-release.ts; V8 settings: src/cli/v8-tuning.ts).');
    line();
    line('| backend | peers | RSS over the window | RSS at the end (anonymous + file) | peak RSS since start | CPU time since start | CPU while idle | threads |');
    line('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const cp of r.controlPlane) {
      for (const s of [cp.resources.idle, cp.resources.loaded]) {
        if (!s) continue;
        line(`| ${cp.backend} | ${s.peers} | ${fmt(s.rssMinMiB)}–${fmt(s.rssMaxMiB)} MiB | ${fmt(s.rssMiB)} MiB (${fmt(s.rssAnonMiB)} + ${fmt(s.rssFileMiB)}) | ${fmt(s.hwmMiB)} MiB | ${fmt(s.cpuSeconds, 2)} s | ${fmt(s.idleCpuPerSecond * 100, 2)} % of a core (over ${fmt(s.windowMs / 1000)} s) | ${s.threads} |`);
      }
    }
    line();
  }
  if (r.profiles.length) {
    line('## CPU profiles (flanneld, self time)');
    line();
    for (const p of r.profiles) {
      line(`${p.file}: ${p.busyMs} ms busy of ${p.totalMs} ms (GC ${p.gcMs} ms)`);
      line();
      line('| self ms | % | function | where |');
      line('| ---: | ---: | --- | --- |');
      for (const h of p.top.slice(0, 10)) line(`| ${h.selfMs} | ${h.selfPct} | \`${h.fn}\` | ${h.where} |`);
      line();
    }
  }
  if (r.notes.length) {
    line('## Notes');
    line();
    for (const n of r.notes) line(`- ${n}`);
    line();
  }
  return out.join('\n');
}
