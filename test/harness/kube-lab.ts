/**
 * A Kubernetes-mode flannel cluster in network namespaces, for the e2e tests:
 *   <prefix>-sw   the switch: bridge br0 (192.168.60.1/24)
 *   <prefix>-cp   the control plane: the fake API server on http://192.168.60.2:6443
 *   <prefix>-nN   node N: eth0 = 192.168.60.(10+N)/24, flanneld --kube-subnet-mgr, NODE_NAME=nodeN
 * flanneld gets --kube-api-url=http://192.168.60.2:6443 and a kubeconfig carrying the bearer
 * token (client-node reads credentials only from a kubeconfig or the in-cluster service account).
 * down() removes every namespace and process even when up() failed halfway. The root namespace
 * is never changed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Netns, attachToSwitch, createSwitch, deleteNamespaces, uniquePrefix } from '../../src/lab/netns.ts';
import { spawnFlanneld, type FlanneldProcess } from './flanneld.ts';
import { RemoteKubeApi } from './kube-api-remote.ts';

export const KUBE_UNDERLAY = { prefix: 24, gateway: '192.168.60.1', api: '192.168.60.2', port: 6443, node: (i: number) => `192.168.60.${10 + i}` };

export interface KubeLabNode {
  readonly index: number;
  /** The Node object's name (NODE_NAME). */
  readonly name: string;
  readonly ns: string;
  readonly underlayIP: string;
  readonly dir: string;
  /** The node's own /run, seen from outside (its processes see it as /run). */
  readonly runDir: string;
  /** Its /run/flannel/subnet.env, seen from outside. */
  readonly subnetFile: string;
  flanneld?: FlanneldProcess;
}

export class KubeLab {
  readonly prefix = uniquePrefix('flk');
  readonly dir = mkdtempSync(join(tmpdir(), 'flt-kubelab-'));
  readonly token = randomBytes(16).toString('hex');
  readonly apiUrl = `http://${KUBE_UNDERLAY.api}:${KUBE_UNDERLAY.port}`;
  readonly kubeconfig = join(this.dir, 'kubeconfig');
  readonly netConfPath = join(this.dir, 'net-conf.json');
  readonly nodes: KubeLabNode[];
  #api: RemoteKubeApi | undefined;

  constructor(nodeCount: number) {
    this.nodes = Array.from({ length: nodeCount }, (_, k) => {
      const index = k + 1;
      const dir = join(this.dir, `node${index}`);
      return { index, name: `node${index}`, ns: `${this.prefix}-n${index}`, underlayIP: KUBE_UNDERLAY.node(index), dir, runDir: join(dir, 'run'), subnetFile: join(dir, 'run', 'flannel', 'subnet.env') };
    });
  }

  get api(): RemoteKubeApi {
    if (!this.#api) throw new Error('the lab is not up');
    return this.#api;
  }

  /** Builds the namespaces, starts the API server and writes net-conf.json and the kubeconfig. */
  async up(netconf: object): Promise<void> {
    writeFileSync(this.netConfPath, JSON.stringify(netconf));
    writeFileSync(
      this.kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: ${this.apiUrl}\nusers:\n- name: flannel\n  user:\n    token: ${this.token}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: flannel}\ncurrent-context: lab\n`,
    );
    const sw = createSwitch(`${this.prefix}-sw`);
    sw.exec('ip', ['addr', 'add', `${KUBE_UNDERLAY.gateway}/${KUBE_UNDERLAY.prefix}`, 'dev', 'br0']);
    const cp = Netns.create(`${this.prefix}-cp`);
    attachToSwitch({ switchNs: sw, bridge: 'br0', ns: cp, ifname: 'eth0', cidr: `${KUBE_UNDERLAY.api}/${KUBE_UNDERLAY.prefix}`, peerName: 'v-cp' });
    for (const node of this.nodes) {
      mkdirSync(node.dir, { recursive: true });
      const ns = Netns.create(node.ns);
      attachToSwitch({ switchNs: sw, bridge: 'br0', ns, ifname: 'eth0', cidr: `${node.underlayIP}/${KUBE_UNDERLAY.prefix}`, peerName: `v-n${node.index}` });
      ns.exec('ip', ['route', 'add', 'default', 'via', KUBE_UNDERLAY.gateway, 'dev', 'eth0']);
      ns.sysctl('net.ipv4.ip_forward', '1');
    }
    this.#api = await RemoteKubeApi.start({ netns: cp.name, host: KUBE_UNDERLAY.api, port: KUBE_UNDERLAY.port, token: this.token });
  }

  flanneldArgs(): string[] {
    return [
      '--kube-subnet-mgr',
      `--kube-api-url=${this.apiUrl}`,
      `--kubeconfig-file=${this.kubeconfig}`,
      `--net-config-path=${this.netConfPath}`,
      '--iface=eth0',
      '--subnet-file=/run/flannel/subnet.env',
      '--ip-masq',
      '--iptables-resync=2',
      '--log-format=text',
    ];
  }

  startFlanneld(node: KubeLabNode): FlanneldProcess {
    node.flanneld = spawnFlanneld({ netns: node.ns, runDir: node.runDir, args: this.flanneldArgs(), env: { NODE_NAME: node.name } });
    return node.flanneld;
  }

  /** Stops every flanneld and the API server, deletes the namespaces and the files. Safe to call twice. */
  async down(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.flanneld?.stop(3000).catch(() => undefined)));
    await this.#api?.stop().catch(() => undefined);
    deleteNamespaces(`${this.prefix}-`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
