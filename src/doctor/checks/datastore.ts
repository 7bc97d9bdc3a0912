/**
 * @module doctor/checks/datastore
 * datastore.reachable: etcd or the Kubernetes API answers, the network config parses and the
 * leases (and in kube mode this node's object) can be read.
 */
import { fail, ok, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { configWhere, errorOf, valueOf } from './common.ts';

function run(f: NodeFacts): CheckResult {
  const id = 'datastore.reachable';
  const ds = f.datastore;
  const what = ds.where;
  const reach =
    ds.kind === 'etcd'
      ? `check etcd answers from here: etcdctl --endpoints=${f.options.etcd.endpoints.join(',')} get ${f.options.etcd.prefix}/config (and flanneld's --etcd-* TLS flags)`
      : 'check the API server answers from here (kubectl get node) and flanneld\'s kubeconfig / service account';
  const configErr = errorOf(ds.config);
  const leasesErr = errorOf(ds.leases);
  const nodeErr = errorOf(ds.node);
  const config = valueOf(ds.config);
  if (configErr !== undefined) {
    const missing = /not found|missing|no such|ENOENT|does not exist/i.test(configErr);
    const fix = missing
      ? ds.kind === 'etcd'
        ? `write it: etcdctl put ${f.options.etcd.prefix}/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`
        : `provide net-conf.json at ${f.options.kube.netConfigPath} (ConfigMap kube-flannel-cfg)`
      : /JSON|must|invalid|Network/i.test(configErr)
        ? `fix ${configWhere(f)}: ${configErr}`
        : reach;
    return fail(id, `${what}: network config: ${configErr}`, fix);
  }
  if (leasesErr !== undefined) return fail(id, `${what}: config read, leases not: ${leasesErr}`, reach);
  if (nodeErr !== undefined) return fail(id, `${what}: node ${f.hostname}: ${nodeErr}`, `${reach}; flanneld needs get/list/watch/patch on nodes (ClusterRole flannel)`);
  const leases = valueOf(ds.leases) ?? [];
  const saw = `${what}: config ${config?.v4?.network.toString() ?? ''}${config?.v6 ? ` ${config.v6.network.toString()}` : ''} backend ${config?.backend.type ?? '?'}, ${leases.length} lease(s)`;
  if (config && config.warnings.length > 0) return warn(id, `${saw}; config warnings: ${config.warnings.join('; ')}`, `fix ${configWhere(f)}: ${config.warnings[0] ?? ''}`);
  return ok(id, saw);
}

export const datastoreChecks: CheckSpec[] = [
  { id: 'datastore.reachable', summary: 'etcd / the Kubernetes API answers, the network config parses, the leases can be read', run },
];
