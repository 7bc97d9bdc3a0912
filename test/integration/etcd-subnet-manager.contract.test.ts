/**
 * The SubnetManager contract for EtcdSubnetManager against a real etcd on loopback (no root
 * needed): one etcd for the file, a key prefix of its own per case.
 */
import { randomBytes } from 'node:crypto';
import { EtcdRegistry } from '../../src/subnet/etcd/index.ts';
import { etcdContractHarness } from '../../src/subnet/testing/etcd-harness.ts';
import { subnetManagerContract } from '../../src/subnet/testing/subnet-manager-contract.ts';
import { skipUnlessEtcd, startEtcd, type EtcdHandle } from '../harness/etcd.ts';

const skip = skipUnlessEtcd('etcd SubnetManager contract');
const TTL = 60;
let etcd: EtcdHandle | undefined;

subnetManagerContract('etcd (real etcd)', {
  capabilities: { subnets: 'allocates', leaseTTLSeconds: TTL },
  skip,
  before: async () => {
    etcd = await startEtcd();
  },
  after: async () => {
    await etcd?.stop();
  },
  async makeHarness({ netConf }) {
    if (!etcd) throw new Error('etcd did not start');
    const endpoints = [etcd.endpoint];
    return await etcdContractHarness({
      prefix: `/flc-${randomBytes(4).toString('hex')}/network`,
      netConf,
      operator: new EtcdRegistry({ endpoints }),
      managerOptions: { endpoints, leaseTTLSeconds: TTL, retry: { initialMs: 100, maxMs: 1000 } },
      now: () => Date.now(),
      // Real time: wait a little so a renewal's expiry is measurably later.
      elapse: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 50))),
    });
  },
});
