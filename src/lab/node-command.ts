/**
 * @module lab/node-command
 * `lab node add [--pods N]` and `lab node remove <node>`: a machine joins or leaves a running
 * lab, as one joins or leaves a cluster. A new node gets the next number, its flanneld leases a
 * subnet and the others route to it; a removed node's pods are deleted through CNI, its flanneld
 * stopped and its lease deleted, so the others drop their routes to it.
 */
import { parseArgs } from 'node:util';
import { ConfigError, describeError } from '../errors/index.ts';
import { nodeSubnet } from './cluster.ts';
import { GLOBAL, MAX_LAB_NODES, MAX_PODS_PER_NODE_AT_UP, loadLab, needRoot, parsing, targetOf, usageError, type LabIO } from './command-kit.ts';
import { labInvocation } from './hints.ts';
import { addLabPod, deleteLabPod, nodeCniDirs, prepareNodeCni, savePods, type LabPod } from './lab-pods.ts';

const NODE_OPTIONS = { ...GLOBAL, pods: { type: 'string' } } as const;

export async function labNode(args: string[], io: LabIO): Promise<number> {
  const { values, positionals } = parsing('node', Object.keys(NODE_OPTIONS), () => parseArgs({ args, options: NODE_OPTIONS, allowPositionals: true, tokens: true }));
  const t = targetOf(values);
  const [verb, target, ...more] = positionals;
  if (verb !== 'add' && verb !== 'remove') usageError(`lab node needs "add [--pods N]" or "remove <node>"${verb === undefined ? '' : `, not "${verb}"`}`);
  if (verb === 'add' && target !== undefined) usageError('lab node add takes no node name: the new node gets the next number');
  if (verb === 'remove' && (target === undefined || more.length)) usageError('lab node remove takes one node (e.g. lab node remove node3)');
  if (verb === 'remove' && values.pods !== undefined) usageError('--pods goes with lab node add');
  const podsText = values.pods ?? '1';
  if (!/^\d+$/.test(podsText) || Number(podsText) > MAX_PODS_PER_NODE_AT_UP) usageError(`--pods must be a whole number from 0 to ${MAX_PODS_PER_NODE_AT_UP}, got "${podsText}"`);
  needRoot();
  const { cluster, pods } = loadLab(t, 'node');
  const lab = labInvocation(t);
  if (verb === 'add') {
    if (cluster.nodes.length >= MAX_LAB_NODES) usageError(`lab "${t.name}" has ${cluster.nodes.length} nodes, the most a lab holds`);
    io.progress(`[lab] adding node${cluster.spec.nodes + 1} and starting its flanneld`);
    let node;
    try {
      node = await cluster.addNode();
    } catch (err) {
      throw new ConfigError('E_LAB_NODE', `could not add a node: ${describeError(err)}`, { hint: `nothing of it was left; "${lab} doctor" checks the others` });
    }
    prepareNodeCni(node);
    const added: LabPod[] = [];
    for (let k = 1; k <= Number(podsText); k++) {
      io.progress(`[lab] creating pod ${node.name}-pod${k} through the CNI plugin`);
      added.push(addLabPod(cluster, node, k));
      savePods(t.stateDir, [...pods, ...added]);
    }
    const subnet = nodeSubnet(node) ?? '(none)';
    io.out(`added ${node.name} (${node.ns}) at ${node.underlayIP} with FLANNEL_SUBNET ${subnet}${added.length ? ` and ${added.map((p) => `${p.name} ${p.ip}`).join(', ')}` : ''}; "${lab} check" probes the new matrix`);
    return 0;
  }
  const node = cluster.nodes.find((n) => n.name === target);
  if (!node) usageError(`no node "${target}" in lab "${t.name}" (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`);
  if (cluster.nodes.length === 1) usageError(`${node.name} is the lab's only node; "${lab} down" removes the whole lab`);
  const mine = pods.filter((p) => p.node === node.name);
  for (const pod of mine) {
    try {
      deleteLabPod(node, pod, nodeCniDirs(node).outside.binDir);
    } catch (err) {
      io.progress(`[lab] CNI DEL of ${pod.name} failed (removing its namespace with the node): ${describeError(err)}`);
    }
  }
  savePods(
    t.stateDir,
    pods.filter((p) => p.node !== node.name),
  );
  await cluster.removeNode(node);
  io.out(`removed ${node.name}${mine.length ? ` and its pods ${mine.map((p) => p.name).join(', ')}` : ''}: flanneld stopped, namespace deleted, lease deleted from etcd (the other nodes drop their routes to it)`);
  return 0;
}
