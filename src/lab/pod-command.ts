/**
 * @module lab/pod-command
 * `lab pod add <node>` and `lab pod delete <pod>`: a pod scheduled on or removed from a running
 * lab, through the node's CNI conf and bin dirs as kubelet's runtime does it, so the matrix,
 * `lab ui` and doctor see the change.
 */
import { parseArgs } from 'node:util';
import { ConfigError, describeError } from '../errors/index.ts';
import { GLOBAL, loadLab, needRoot, parsing, targetOf, usageError, type LabIO } from './command-kit.ts';
import { labInvocation } from './hints.ts';
import { addLabPod, deleteLabPod, nodeCniDirs, podNames, savePods } from './lab-pods.ts';
import { Netns } from './netns.ts';

/** The most pods a node holds in the lab (host-local would run out long after; the matrix would not). */
export const MAX_PODS_PER_NODE = 50;

export async function labPod(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('pod', Object.keys(GLOBAL), () => parseArgs({ args, options: GLOBAL, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  const [verb, target, ...more] = positionals;
  if (verb !== 'add' && verb !== 'delete') usageError(`lab pod needs "add <node>" or "delete <pod>"${verb === undefined ? '' : `, not "${verb}"`}`);
  if (target === undefined || more.length) usageError(verb === 'add' ? 'lab pod add takes one node (e.g. lab pod add node2)' : 'lab pod delete takes one pod (e.g. lab pod delete node2-pod1)');
  needRoot();
  const { cluster, pods } = loadLab(t, 'pod');
  const lab = labInvocation(t);
  if (verb === 'add') {
    const node = cluster.nodes.find((n) => n.name === target);
    if (!node) usageError(`no node "${target}" in lab "${t.name}" (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`);
    const mine = pods.filter((p) => p.node === node.name);
    if (mine.length >= MAX_PODS_PER_NODE) usageError(`${node.name} already has ${mine.length} pods, the lab's most per node`);
    let k = 1;
    while (pods.some((p) => p.name === podNames(node, k).name)) k++;
    let pod;
    try {
      pod = addLabPod(cluster, node, k);
    } catch (err) {
      // Nothing half-made stays: the namespace goes, and host-local's lease with the CNI DEL the runtime would send.
      try {
        deleteLabPod(node, { ...podNames(node, k), ip: '' }, nodeCniDirs(node).outside.binDir);
      } catch {
        new Netns(podNames(node, k).ns).delete();
      }
      throw new ConfigError('E_LAB_POD', `could not add a pod on ${node.name}: ${describeError(err)}`, { hint: `run "${lab} doctor ${node.name}" to see why` });
    }
    savePods(t.stateDir, [...pods, pod]);
    io.out(`added ${pod.name} on ${node.name} with IP ${pod.ip} (namespace ${pod.ns}); "${lab} check" probes it with every other pod`);
    return 0;
  }
  const pod = pods.find((p) => p.name === target);
  if (!pod) usageError(`no pod "${target}" in lab "${t.name}" (pods: ${pods.map((p) => p.name).join(', ') || 'none'})`);
  const node = cluster.node(pod.node);
  deleteLabPod(node, pod, nodeCniDirs(node).outside.binDir);
  savePods(
    t.stateDir,
    pods.filter((p) => p !== pod),
  );
  io.out(`deleted ${pod.name} from ${node.name} (its IP ${pod.ip} is free again)`);
  return 0;
}
