/**
 * The lab's command line, up to the point where it would need root or a lab: global options
 * before the subcommand, help, and usage errors with their exact messages.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LabUsageError, optionFlags, runLab } from './lab-command.ts';

function run(args: string[]): { lines: string[]; result: Promise<number> } {
  const lines: string[] = [];
  return { lines, result: runLab(args, { out: (l) => lines.push(l), progress: (l) => lines.push(l) }) };
}

async function usage(args: string[]): Promise<string> {
  try {
    await run(args).result;
  } catch (err) {
    assert.ok(err instanceof LabUsageError, String(err));
    assert.equal(err.code, 'E_LAB_USAGE');
    assert.match(err.hint ?? '', /^see "node (--import tsx )?\S+ lab --help"$/);
    return err.message;
  }
  assert.fail(`lab ${args.join(' ')} did not fail`);
}

describe('lab command line', () => {
  it('--help before or after a subcommand prints the help and exits 0; no subcommand exits 2', async () => {
    for (const args of [['--help'], ['help'], ['--name', 'rel', '--help'], ['up', '--help'], ['--name', 'rel', 'exec', '-h']]) {
      const r = run(args);
      assert.equal(await r.result, 0, args.join(' '));
      assert.match(r.lines.join('\n'), /^Usage: node (--import tsx )?\S+ lab \[--name NAME\] \[--state-dir DIR\] <up\|check\|status\|exec\|path\|doctor\|break\|heal\|node\|pod\|ui\|down> \[options\]/);
      assert.match(r.lines.join('\n'), /--replace {12}if a lab of this name is up, remove it first and build this one/);
    }
    assert.equal(await run([]).result, 2);
  });

  it('names what is wrong with the command line', async () => {
    assert.equal(await usage(['--name', 'rel', 'frob']), 'unknown subcommand "frob" (choose up, check, status, exec, path, doctor, break, heal, node, pod, ui, down)');
    assert.equal(await usage(['--name', 'rel']), 'name a subcommand after the options: up, check, status, exec, path, doctor, break, heal, node, pod, ui, down');
    assert.equal(await usage(['--name']), '--name needs a value');
    assert.equal(await usage(['node', 'frob']), 'lab node needs "add [--pods N]" or "remove <node>", not "frob"');
    assert.equal(await usage(['node', 'add', 'node5']), 'lab node add takes no node name: the new node gets the next number');
    assert.equal(await usage(['node', 'remove']), 'lab node remove takes one node (e.g. lab node remove node3)');
    assert.equal(await usage(['node', 'remove', 'node2', '--pods', '1']), '--pods goes with lab node add');
    assert.equal(await usage(['node', 'add', '--pods', 'x']), '--pods must be a whole number from 0 to 20, got "x"');
    assert.equal(await usage(['pod']), 'lab pod needs "add <node>" or "delete <pod>"');
    assert.equal(await usage(['pod', 'add']), 'lab pod add takes one node (e.g. lab pod add node2)');
    assert.equal(await usage(['ui', '--port', '70000']), '--port must be a TCP port from 0 to 65535 (0 picks a free one), got "70000"');
    assert.equal(await usage(['status', '--svg=']), '--svg needs a file name');
    assert.equal(await usage(['path', 'node1-pod1']), 'lab path takes two pods, the sender then the receiver (e.g. lab path node1-pod1 node2-pod1), not 1 (node1-pod1)');
    assert.equal(await usage(['--nodes', '2', 'up']), '--nodes before the subcommand: only --name and --state-dir go there; put it after the subcommand (e.g. "lab up --nodes")');
    assert.equal(await usage(['down', '--nodes', '3']), '"lab down" has no option --nodes (its options: --name, --state-dir)');
    assert.equal(await usage(['check', 'extra']), '"lab check" takes no argument "extra" (its options: --name, --state-dir)');
    assert.equal(await usage(['--name', 'a', 'status', '--name', 'b']), '--name is given 2 times (before and after the subcommand?); give it once');
    assert.equal(await usage(['up', '--nftables=yes']), '--nftables takes no value');
    assert.equal(await usage(['--name', '../etc', 'down']), '--name "../etc" is not a lab name: use 1-32 letters, digits, "_", "." or "-", starting with a letter or digit');
    assert.equal(await usage(['--name', 'x-n1', 'down']), '--name "x-n1" looks like one of another lab\'s namespaces ("-nN", "-sw", "-cp" name them); pick another name');
    assert.equal(await usage(['up', '--nodes', '0']), '--nodes must be a whole number from 1 to 100, got "0"');
    assert.equal(await usage(['up', '--backend', 'vxlna']), '--backend "vxlna" is not available in the lab (choose vxlan, host-gw, wireguard, udp, ipip, extension)');
    assert.equal(await usage(['up', '--backend', 'host-gw', '--direct-routing']), '--direct-routing only applies to --backend vxlan or ipip');
    assert.equal(await usage(['up', '--network', '192.168.0.0/16']), "--network 192.168.0.0/16 overlaps the lab's underlay 192.168.50.0/24, where its nodes' eth0 are; pick another range (default 10.244.0.0/16)");
    assert.equal(await usage(['up', '--etcd-endpoints', '192.168.50.5']), '--etcd-endpoints: "192.168.50.5" is not an etcd URL such as http://192.168.50.2:2379');
    assert.equal(await usage(['exec', 'node1']), 'lab exec needs "--" before the command: lab exec <node|pod|etcd|switch> -- <command...>');
    assert.equal(await usage(['exec', 'node1', '--']), 'lab exec: no command after "--" (e.g. lab exec node1 -- ip route)');
    assert.equal(await usage(['break']), 'lab break needs a fault: udp-blocked, ip-forward-off, forward-drop, peer-route-missing, flanneld-stopped, mtu-cni0, cni0-stale-address, cni-plugin-missing, stray-conflist, network-overlap ("lab break --list" explains each)');
    assert.equal(await usage(['break', 'udp-blockd', 'node2']), 'no fault "udp-blockd" (faults: udp-blocked, ip-forward-off, forward-drop, peer-route-missing, flanneld-stopped, mtu-cni0, cni0-stale-address, cni-plugin-missing, stray-conflist, network-overlap; "lab break --list" explains each)');
    assert.equal(await usage(['break', '--list', 'udp-blocked']), 'lab break --list takes no fault or node');
    assert.equal(await usage(['break', 'udp-blocked', 'node1', 'node2']), 'lab break takes a fault and one node, not udp-blocked node1 node2');
    assert.equal(await usage(['heal', 'a', 'b', 'c']), 'lab heal takes at most a fault and a node, not a b c');
    assert.equal(await usage(['doctor', 'node1', 'node2']), 'lab doctor takes at most one node, not 2 (node1 node2)');
    assert.equal(await usage(['doctor', '--verbose']), '"lab doctor" has no option --verbose (its options: --name, --state-dir, --json, --connectivity)');
  });

  it('lab break --list explains every fault in one line with its seed and the checks that find it, without root or a lab', async () => {
    const r = run(['break', '--list']);
    assert.equal(await r.result, 0);
    const text = r.lines.join('\n');
    assert.match(text, /^Faults "lab break <fault> \[node\]" injects/);
    assert.match(text, /\n {2}udp-blocked {9}an INPUT rule drops the backend's UDP port .*\n {22}\(from seed 000 §6, seed 001 §2; doctor fails: firewall\.input-port\)/);
    assert.match(text, /\n {2}network-overlap {5}.*\n {22}\(from seed 000 §1 and §6; doctor fails: config\.network-overlap\)$/);
  });

  it('spells out every option of a lab as lab up flags', () => {
    assert.deepEqual(optionFlags({ nodes: 2, pods: 1, backend: 'host-gw', directRouting: false, nftables: true, network: '10.244.0.0/16', etcdEndpoints: [] }), ['--nodes', '2', '--pods', '1', '--backend', 'host-gw', '--nftables', '--network', '10.244.0.0/16']);
    assert.deepEqual(optionFlags({ nodes: 3, pods: 2, backend: 'vxlan', directRouting: true, nftables: false, network: '10.1.0.0/16', etcdEndpoints: ['http://e:2379'] }), ['--nodes', '3', '--pods', '2', '--backend', 'vxlan', '--direct-routing', '--network', '10.1.0.0/16', '--etcd-endpoints', 'http://e:2379']);
  });
});
