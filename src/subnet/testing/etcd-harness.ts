/**
 * @module subnet/testing/etcd-harness
 * The SubnetManager contract harness for EtcdSubnetManager, over any Registry: the in-memory etcd
 * (unit tests) or a real one (integration tests). What someone outside flannel does to the data
 * (etcdctl del / put) goes through an "operator" registry of its own.
 */
import { IPAddress, subnetKey } from '../../ip/index.ts';
import { encodeLeaseAttrs, type Lease } from '../../lease/index.ts';
import { EtcdSubnetManager } from '../etcd/manager.ts';
import { KeyLayout, pairOfLease } from '../etcd/keys.ts';
import { normalisePrefix, type EtcdSubnetManagerOptions } from '../etcd/options.ts';
import type { Registry } from '../etcd/registry.ts';
import { THIEF_IP, type SubnetManagerHarness, type Tamper } from './subnet-manager-contract.ts';

export interface EtcdHarnessOptions {
  /** Key prefix of this harness (unique per case against a shared etcd). */
  prefix: string;
  netConf: string;
  /** Changes data as an operator would (closed by the harness). */
  operator: Registry;
  /** Options of every manager; `registry` is called once per manager (each node its own client). */
  managerOptions: Omit<EtcdSubnetManagerOptions, 'registry' | 'prefix'> & { registry?: () => Registry };
  now(): number;
  elapse(ms: number): Promise<void>;
  /** Extra cleanup after every manager and the operator are closed. */
  cleanup?: () => Promise<void>;
}

const signal = (): AbortSignal => AbortSignal.timeout(20_000);

/** Writes the configuration and returns the harness. */
export async function etcdContractHarness(o: EtcdHarnessOptions): Promise<SubnetManagerHarness> {
  const layout = new KeyLayout(normalisePrefix(o.prefix));
  const { operator } = o;
  const put = async (key: string, value: string): Promise<void> => {
    const { kv } = await operator.get(key, signal());
    const res = await operator.putIf(key, value, { expect: kv ? { modRevision: kv.modRevision } : { absent: true } }, signal());
    if (!res.ok) throw new Error(`the harness lost a race writing ${key}`);
  };
  const del = async (key: string): Promise<void> => {
    const { kv } = await operator.get(key, signal());
    if (!kv) throw new Error(`the harness found no key ${key} to delete`);
    if (!(await operator.deleteIf(key, { modRevision: kv.modRevision }, signal()))) throw new Error(`the harness lost a race deleting ${key}`);
  };
  await put(layout.configKey, o.netConf);

  const managers: EtcdSubnetManager[] = [];
  const keyOf = (lease: Lease): string => layout.subnetsPrefix + subnetKey(pairOfLease(lease));
  return {
    manager() {
      const { registry, ...rest } = o.managerOptions;
      const m = new EtcdSubnetManager({ ...rest, prefix: o.prefix, ...(registry ? { registry: registry() } : {}) });
      managers.push(m);
      return m;
    },
    async tamper(_node: string, lease: Lease, how: Tamper) {
      const key = keyOf(lease);
      if (how === 'delete') await del(key);
      else if (how === 'garble') await put(key, 'garbage');
      else await put(key, encodeLeaseAttrs({ publicIP: IPAddress.parse(THIEF_IP), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:00:00:fa' } }));
    },
    async remove(_node: string, lease: Lease) {
      await del(keyOf(lease));
    },
    now: () => o.now(),
    elapse: (ms) => o.elapse(ms),
    async close() {
      for (const m of managers.splice(0)) await m.close();
      await operator.close();
      await o.cleanup?.();
    },
  };
}
