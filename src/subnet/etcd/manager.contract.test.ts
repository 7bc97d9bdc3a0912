/**
 * The SubnetManager contract for EtcdSubnetManager over the in-memory etcd: no etcd process, no
 * root, a manual clock for lease expiry.
 */
import { etcdContractHarness } from '../testing/etcd-harness.ts';
import { subnetManagerContract } from '../testing/subnet-manager-contract.ts';
import { ManualClock, MemoryEtcd } from './memory-registry.ts';

const TTL = 3600;

subnetManagerContract('etcd (in-memory registry)', {
  capabilities: { subnets: 'allocates', leaseTTLSeconds: TTL },
  deadlineMs: 5000,
  async makeHarness({ netConf }) {
    const clock = new ManualClock();
    const etcd = new MemoryEtcd({ now: clock.now });
    return await etcdContractHarness({
      prefix: '/coreos.com/network',
      netConf,
      operator: etcd.client(),
      managerOptions: { endpoints: etcd.endpoints, registry: () => etcd.client(), now: clock.now, leaseTTLSeconds: TTL, retry: { initialMs: 5, maxMs: 50 } },
      now: clock.now,
      elapse: async (ms) => clock.advance(ms),
    });
  },
});
