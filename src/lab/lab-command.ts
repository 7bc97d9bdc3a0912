/**
 * @module lab/lab-command
 * `flannel-ts lab up|check|status|exec|down`: a flannel cluster in network namespaces on this
 * machine, with pods created through the real CNI plugin, and a pod-to-pod connectivity matrix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseNetworkConfig } from '../config/index.ts';
import { ConfigError, describeError } from '../errors/index.ts';
import { Cluster, type LabNode } from './cluster.ts';
import { allReachable, probeMatrix, renderMatrix, type Reachability } from './connectivity.ts';
import { addLabPod, deleteLabPod, loadPods, prepareCniPath, savePods, type LabPod } from './lab-pods.ts';
import { Netns, sh } from './netns.ts';

const LAB_BACKENDS = ['vxlan', 'host-gw'];

export interface LabIO {
  out: (line: string) => void;
  progress: (line: string) => void;
}

const common = {
  name: { type: 'string', default: 'lab' },
  'state-dir': { type: 'string' },
} as const;

function stateDirFor(name: string, given?: string): string {
  return given ?? join('/run/flannel-ts/lab', name);
}

function usageError(message: string): never {
  throw new ConfigError('E_LAB_USAGE', message, { hint: 'run "flannel-ts lab --help"' });
}

export const LAB_HELP = `Usage: flannel-ts lab <up|check|status|exec|down> [options]

  lab up      build a cluster in network namespaces and print nodes, pods and the connectivity matrix
      --nodes N            nodes (default 3)            --pods N          pods per node (default 2)
      --backend TYPE       vxlan | host-gw (default vxlan)
      --direct-routing     vxlan DirectRouting          --nftables        nftables instead of iptables
      --network CIDR       cluster network (default 10.244.0.0/16)
      --etcd-endpoints U   use this etcd (reachable from the lab underlay) instead of starting one
      --keep-on-failure    leave what was built for debugging instead of cleaning up
  lab check   re-run the pod-to-pod matrix (exit 1 if any pair fails)
  lab status  nodes, pods, the last matrix, and each node's routes, FDB and rules
  lab exec <node|pod|etcd|switch> -- <command...>   run a command there (e.g. ip route, bridge fdb)
  lab down    remove every namespace, process and file of the lab (also after a crash)

  Every command takes --name NAME (default "lab"; namespaces are NAME-sw, NAME-cp, NAME-nN, NAME-nN-pK)
  and --state-dir DIR (default /run/flannel-ts/lab/NAME).
`;

async function step<T>(io: LabIO, what: string, likelyCause: string, fn: () => T | Promise<T>): Promise<T> {
  io.progress(`[lab] ${what}`);
  try {
    return await fn();
  } catch (err) {
    throw new ConfigError('E_LAB_STEP', `lab step "${what}" failed: ${describeError(err)}`, { hint: likelyCause, cause: err });
  }
}

function intOption(v: string | undefined, name: string, min: number, max: number, def: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) usageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

export async function labUp(args: string[], io: LabIO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      nodes: { type: 'string' },
      pods: { type: 'string' },
      backend: { type: 'string', default: 'vxlan' },
      network: { type: 'string', default: '10.244.0.0/16' },
      nftables: { type: 'boolean', default: false },
      'direct-routing': { type: 'boolean', default: false },
      'etcd-endpoints': { type: 'string' },
      'keep-on-failure': { type: 'boolean', default: false },
    },
  });
  const nodes = intOption(values.nodes, 'nodes', 1, 20, 3);
  const podsPerNode = intOption(values.pods, 'pods', 0, 20, 2);
  if (!LAB_BACKENDS.includes(values.backend)) usageError(`--backend "${values.backend}" is not available in the lab (choose ${LAB_BACKENDS.join(' or ')})`);
  if (values['direct-routing'] && values.backend !== 'vxlan') usageError('--direct-routing only applies to --backend vxlan');
  const netconf = { Network: values.network, EnableNFTables: values.nftables, Backend: { Type: values.backend, ...(values['direct-routing'] ? { DirectRouting: true } : {}) } };
  parseNetworkConfig(JSON.stringify(netconf), { source: '--network/--backend' });
  if (process.getuid?.() !== 0) usageError('the lab creates network namespaces and needs root');

  const stateDir = stateDirFor(values.name, values['state-dir']);
  if (existsSync(join(stateDir, 'lab.json')) || sh('ip', ['netns', 'list']).split('\n').some((l) => l.startsWith(`${values.name}-`))) {
    io.progress(`[lab] removing an earlier lab "${values.name}" first`);
    Cluster.down(values.name, stateDir);
  }
  const cleanup = (): void => {
    if (values['keep-on-failure']) {
      io.progress(`[lab] keeping what was built (--keep-on-failure); remove it with: flannel-ts lab down --name ${values.name}`);
    } else {
      io.progress('[lab] cleaning up after the failure');
      Cluster.down(values.name, stateDir);
    }
  };
  try {
    const cluster = await step(io, `starting ${nodes} nodes (${values.backend}${values['direct-routing'] ? ' DirectRouting' : ''}, ${values.nftables ? 'nftables' : 'iptables'}, ${values.network})`, 'see the flanneld log lines above; is etcd-server installed (scripts/setup.sh) and is this run as root?', () =>
      Cluster.up({
        prefix: values.name,
        nodes,
        netconf,
        ipMasq: true,
        stateDir,
        ...(values['etcd-endpoints'] ? { etcdEndpoints: values['etcd-endpoints'].split(',') } : {}),
        progress: (m) => io.progress(`[lab]   ${m}`),
      }),
    );
    const cniPath = await step(io, 'preparing the CNI plugins', 'run scripts/setup.sh to build the plugin and install containernetworking-plugins', () => prepareCniPath(stateDir));
    const pods: LabPod[] = [];
    for (const node of cluster.nodes) {
      for (let k = 1; k <= podsPerNode; k++) {
        const pod = await step(io, `creating pod ${node.name}-pod${k} through the CNI plugin (flannel → bridge + host-local, portmap)`, `check ${node.subnetFile} and the flanneld log of ${node.name} (${node.logFile})`, () => addLabPod(cluster, node, k, cniPath));
        pods.push(pod);
        savePods(stateDir, pods);
      }
    }
    const cells = await step(io, `probing ${pods.length * (pods.length - 1)} pod pairs over ICMP and TCP`, 'a probe process could not run', () => probeMatrix(pods));
    writeFileSync(join(stateDir, 'matrix.json'), JSON.stringify({ at: new Date().toISOString(), cells }, null, 2));
    io.out(summary(cluster, pods, cells));
    if (!allReachable(cells)) {
      io.out('\nSome pod pairs are not reachable. The lab is left running for inspection (flannel-ts lab status / exec); remove it with flannel-ts lab down.');
      return 1;
    }
    return 0;
  } catch (err) {
    cleanup();
    throw err;
  }
}

function nodeRow(cluster: Cluster, node: LabNode): string[] {
  const env = existsSync(node.subnetFile) ? readFileSync(node.subnetFile, 'utf8') : '';
  const subnet = /FLANNEL_SUBNET=(\S+)/.exec(env)?.[1] ?? '(none)';
  let mac = '-';
  try {
    mac = (new Netns(node.ns).ipJson<Array<{ address?: string }>>(['link', 'show', 'flannel.1'])[0]?.address ?? '-');
  } catch {
    /* host-gw: no VTEP */
  }
  const running = cluster.flanneldPid(node) !== undefined ? 'running' : 'STOPPED';
  return [node.name, node.ns, node.underlayIP, subnet, mac, running];
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)) + 2) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('').trimEnd()).join('\n');
}

function summary(cluster: Cluster, pods: readonly LabPod[], cells: readonly Reachability[]): string {
  const nc = cluster.spec.netconf as { Network: string; EnableNFTables: boolean; Backend: { Type: string; DirectRouting?: boolean } };
  const first = cluster.nodes[0];
  const pod = pods[0];
  const other = pods.find((p) => p.node !== pod?.node);
  const lab = cluster.spec.prefix === 'lab' ? 'lab' : `lab --name ${cluster.spec.prefix}`;
  return [
    '',
    `flannel-ts lab "${cluster.spec.prefix}": ${cluster.nodes.length} nodes, backend ${nc.Backend.Type}${nc.Backend.DirectRouting ? ' (DirectRouting)' : ''}, network ${nc.Network}, ${nc.EnableNFTables ? 'nftables' : 'iptables'}, etcd ${cluster.etcdEndpoints.join(',')}`,
    '',
    table([['NODE', 'NAMESPACE', 'UNDERLAY IP', 'FLANNEL_SUBNET', 'VTEP MAC', 'FLANNELD'], ...cluster.nodes.map((n) => nodeRow(cluster, n))]),
    '',
    table([['POD', 'NODE', 'NAMESPACE', 'IP'], ...pods.map((p) => [p.name, p.node, p.ns, p.ip])]),
    '',
    pods.length > 1 ? renderMatrix(pods, cells) : '(fewer than two pods: no matrix)',
    '',
    'Try:',
    ...(first ? [`  flannel-ts ${lab} exec ${first.name} -- ip route`, `  flannel-ts ${lab} exec ${first.name} -- bridge fdb show dev flannel.1`, `  flannel-ts ${lab} exec ${first.name} -- iptables -t nat -S FLANNEL-POSTRTG`, `  flannel-ts ${lab} exec ${first.name} -- cat ${first.subnetFile}`] : []),
    ...(pod && other ? [`  flannel-ts ${lab} exec ${pod.name} -- ping -c 3 ${other.ip}`, `  flannel-ts ${lab} exec ${first?.name ?? 'node1'} -- conntrack -L`] : []),
    `  flannel-ts ${lab} check | status | down`,
  ].join('\n');
}

export async function labCheck(args: string[], io: LabIO): Promise<number> {
  const { values } = parseArgs({ args, options: common });
  const stateDir = stateDirFor(values.name, values['state-dir']);
  const cluster = Cluster.load(stateDir);
  const pods = loadPods(stateDir);
  const cells = probeMatrix(pods);
  writeFileSync(join(stateDir, 'matrix.json'), JSON.stringify({ at: new Date().toISOString(), cells }, null, 2));
  io.out(renderMatrix(pods, cells));
  const stopped = cluster.nodes.filter((n) => cluster.flanneldPid(n) === undefined).map((n) => n.name);
  if (stopped.length) io.out(`flanneld is not running on: ${stopped.join(', ')}`);
  return allReachable(cells) ? 0 : 1;
}

export async function labStatus(args: string[], io: LabIO): Promise<number> {
  const { values } = parseArgs({ args, options: common });
  const stateDir = stateDirFor(values.name, values['state-dir']);
  const cluster = Cluster.load(stateDir);
  const pods = loadPods(stateDir);
  const matrixFile = join(stateDir, 'matrix.json');
  const last = existsSync(matrixFile) ? (JSON.parse(readFileSync(matrixFile, 'utf8')) as { at: string; cells: Reachability[] }) : { at: 'never', cells: [] };
  io.out(summary(cluster, pods, last.cells).replace(/\nTry:[\s\S]*$/, ''));
  io.out(`(matrix from ${last.at}; "flannel-ts lab check" probes again)`);
  const nftables = (cluster.spec.netconf as { EnableNFTables?: boolean }).EnableNFTables === true;
  for (const node of cluster.nodes) {
    const ns = new Netns(node.ns);
    const run = (cmd: string, a: string[]): string => {
      try {
        return ns.exec(cmd, a).trimEnd() || '(empty)';
      } catch (err) {
        return `(${describeError(err).split('\n')[0]})`;
      }
    };
    io.out(`\n== ${node.name} (${node.ns})`);
    io.out(`-- ip route\n${run('ip', ['route'])}`);
    io.out(`-- bridge fdb show dev flannel.1\n${run('bridge', ['fdb', 'show', 'dev', 'flannel.1'])}`);
    io.out(`-- ip neigh show dev flannel.1\n${run('ip', ['neigh', 'show', 'dev', 'flannel.1'])}`);
    io.out(nftables ? `-- nft list table ip flannel-ipv4\n${run('nft', ['list', 'table', 'ip', 'flannel-ipv4'])}` : `-- iptables -t nat -S FLANNEL-POSTRTG; iptables -S FLANNEL-FWD\n${run('iptables', ['-t', 'nat', '-S', 'FLANNEL-POSTRTG'])}\n${run('iptables', ['-S', 'FLANNEL-FWD'])}`);
  }
  return 0;
}

export async function labExec(args: string[], _io: LabIO): Promise<number> {
  const dd = args.indexOf('--');
  if (dd < 0 || dd === args.length - 1) usageError('usage: flannel-ts lab exec <node|pod|etcd|switch> -- <command...>');
  const { values, positionals } = parseArgs({ args: args.slice(0, dd), options: common, allowPositionals: true });
  const target = positionals[0];
  if (!target || positionals.length > 1) usageError('name one target: a node (node1), a pod (node1-pod1), etcd or switch');
  const stateDir = stateDirFor(values.name, values['state-dir']);
  const cluster = Cluster.load(stateDir);
  const pods = loadPods(stateDir);
  const ns =
    target === 'etcd' ? cluster.controlNs : target === 'switch' ? cluster.switchNs : (pods.find((p) => p.name === target)?.ns ?? (cluster.nodes.some((n) => n.name === target) ? cluster.node(target).ns : undefined));
  if (!ns) usageError(`no node or pod "${target}" in lab "${values.name}" (nodes: ${cluster.nodes.map((n) => n.name).join(', ')}; pods: ${pods.map((p) => p.name).join(', ') || 'none'})`);
  const r = spawnSync('ip', ['netns', 'exec', ns, ...args.slice(dd + 1)], { stdio: 'inherit' });
  return r.status ?? 1;
}

export async function labDown(args: string[], io: LabIO): Promise<number> {
  const { values } = parseArgs({ args, options: common });
  const stateDir = stateDirFor(values.name, values['state-dir']);
  if (existsSync(join(stateDir, 'lab.json'))) {
    try {
      const cluster = Cluster.load(stateDir);
      const cniPath = prepareCniPath(stateDir);
      for (const pod of loadPods(stateDir)) {
        try {
          deleteLabPod(cluster.node(pod.node), pod, cniPath);
        } catch (err) {
          io.progress(`[lab] CNI DEL of ${pod.name} failed (removing its namespace anyway): ${describeError(err)}`);
        }
      }
    } catch (err) {
      io.progress(`[lab] could not read the lab state (${describeError(err)}); removing by name`);
    }
  }
  const removed = Cluster.down(values.name, stateDir);
  io.out(removed.length ? `removed lab "${values.name}": ${removed.join(' ')}` : `no lab "${values.name}" was running; nothing to remove`);
  return 0;
}

export const LAB_COMMANDS: Record<string, (args: string[], io: LabIO) => Promise<number>> = {
  up: labUp,
  check: labCheck,
  status: labStatus,
  exec: labExec,
  down: labDown,
};
