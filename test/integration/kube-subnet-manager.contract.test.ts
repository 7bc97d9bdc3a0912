/**
 * The SubnetManager contract for KubeSubnetManager against the in-suite fake API server over real
 * HTTP, through @kubernetes/client-node (no root needed). The harness plays
 * kube-controller-manager: every node gets the next /24 of the Network as its podCIDR.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cidr } from '../../src/ip/index.ts';
import type { Lease } from '../../src/lease/index.ts';
import { annotationNames } from '../../src/subnet/kube/annotations.ts';
import { KubeSubnetManager } from '../../src/subnet/kube/index.ts';
import { CONTRACT_NETWORK, subnetManagerContract, THIEF_IP, type Tamper } from '../../src/subnet/testing/subnet-manager-contract.ts';
import { FakeKubeApiServer } from '../harness/kube-api-server.ts';

const names = annotationNames();
const FAST = { podCidrPollMs: 25, podCidrWarnMs: 150, retryInitialMs: 20, retryMaxMs: 200 };

subnetManagerContract('kube (fake API server)', {
  capabilities: { subnets: 'assigned', leaseTTLSeconds: undefined },
  async makeHarness({ netConf }) {
    const srv = await FakeKubeApiServer.start();
    const dir = mkdtempSync(join(tmpdir(), 'flt-kube-contract-'));
    const netConfigPath = join(dir, 'net-conf.json');
    writeFileSync(netConfigPath, netConf);
    const kubeconfigFile = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigFile,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${srv.url}\nusers:\n- name: flannel\n  user:\n    token: ${srv.token}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: flannel}\ncurrent-context: fake\n`,
    );
    const network = Cidr.parse(CONTRACT_NETWORK);
    let assigned = 0;
    const nextPodCidr = (): string => network.subnetAt(24, BigInt(++assigned)).toString();
    const managers: KubeSubnetManager[] = [];
    return {
      manager(node: string) {
        if (!srv.node(node)) srv.addNode({ name: node, podCIDRs: [nextPodCidr()] });
        const m = new KubeSubnetManager({ kubeconfigFile, netConfigPath, env: { NODE_NAME: node }, timings: FAST });
        managers.push(m);
        return m;
      },
      async tamper(node: string, lease: Lease, how: Tamper) {
        if (how === 'delete') {
          srv.setAnnotations(node, { [names.kubeSubnetManager]: null, [names.backendType]: null, [names.backendData]: null, [names.publicIP]: null });
        } else if (how === 'garble') {
          srv.setAnnotations(node, { [names.backendData]: '{not json' });
        } else {
          srv.setPodCIDRs(node, [nextPodCidr()]);
          srv.addNode({
            name: `thief-of-${node}`,
            podCIDRs: [String(lease.subnet)],
            annotations: {
              [names.kubeSubnetManager]: 'true',
              [names.backendType]: 'vxlan',
              [names.backendData]: '{"VNI":1,"VtepMAC":"aa:bb:cc:00:00:fa"}',
              [names.publicIP]: THIEF_IP,
            },
          });
        }
      },
      async remove(node: string) {
        srv.deleteNode(node);
      },
      now: () => Date.now(),
      elapse: async () => undefined,
      async close() {
        for (const m of managers.splice(0)) await m.close();
        await srv.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
