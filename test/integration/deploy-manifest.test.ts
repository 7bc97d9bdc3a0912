/**
 * deploy/kube-flannel.yml: generated (never hand-edited), valid against the Kubernetes schemas,
 * and carrying what flannel needs on a node — checked against flanneld's own flag and
 * net-conf.json parsers, the CNI conflist shipped in deploy/cni, and by running the
 * install-cni-plugin script against a scratch directory.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { parseDaemonOptions, parseNetworkConfig } from '../../src/config/index.ts';
import { CHART_DIR, MANIFEST_PATH, deployFiles, packageVersion } from '../../src/deploy/files.ts';
import { CONFLIST_NAME, IMAGE, MOUNT } from '../../src/deploy/image-layout.ts';
import { CNI_CONFLIST } from '../../src/deploy/objects/index.ts';
import { parseDocuments, findObject, refOf } from '../../src/deploy/testing/objects.ts';
import { validateObject } from '../../src/deploy/testing/validate.ts';
import { DEFAULT_HEALTHZ_PORT } from '../../src/deploy/values.ts';

const root = new URL('../../', import.meta.url);
const repoPath = (rel: string) => join(root.pathname, rel);
const version = packageVersion(root);
const objects = parseDocuments(readFileSync(repoPath(MANIFEST_PATH), 'utf8'), MANIFEST_PATH);
const daemonSet = () => findObject<IDaemonSet>(objects, 'DaemonSet', 'kube-flannel-ds');
const podSpec = () => daemonSet().spec?.template.spec ?? assert.fail('DaemonSet has no pod spec');
const container = (name: string): IContainer => {
  const spec = podSpec();
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === name);
  return found ?? assert.fail(`no container ${name}`);
};
const configData = () => findObject<IConfigMap>(objects, 'ConfigMap', 'kube-flannel-cfg').data ?? {};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

describe('generated files', () => {
  const generated = deployFiles(version);
  for (const [rel, text] of generated) {
    it(`${rel} is exactly the generator's output (run "npm run generate:deploy")`, () => {
      assert.equal(readFileSync(repoPath(rel), 'utf8'), text);
    });
  }
  it('the chart directory holds no other file', () => {
    const onDisk = walk(repoPath(CHART_DIR)).map((p) => relative(root.pathname, p)).sort();
    assert.deepEqual(onDisk, [...generated.keys()].filter((k) => k.startsWith(`${CHART_DIR}/`)).sort());
  });
});

describe('kube-flannel.yml', () => {
  it('holds upstream\'s objects, in apply order', () => {
    assert.deepEqual(objects.map(refOf), [
      { kind: 'Namespace', name: 'kube-flannel' },
      { kind: 'ServiceAccount', name: 'flannel' },
      { kind: 'ClusterRole', name: 'flannel' },
      { kind: 'ClusterRoleBinding', name: 'flannel' },
      { kind: 'ConfigMap', name: 'kube-flannel-cfg' },
      { kind: 'DaemonSet', name: 'kube-flannel-ds' },
    ]);
  });

  it('every object is valid against the Kubernetes schemas', () => {
    for (const o of objects) validateObject(o);
  });

  it('the schema check does catch a broken object', () => {
    const broken = structuredClone(daemonSet()) as unknown as { spec: { template: { spec: { containers: { name?: string }[] } } } };
    delete broken.spec.template.spec.containers[0]?.name;
    assert.throws(() => validateObject(broken), /containers\/0 must have required property name/);
  });

  it('the namespace admits privileged pods, and namespaced objects live in it', () => {
    const ns = findObject<INamespace>(objects, 'Namespace');
    assert.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const o of objects.filter((x) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(refOf(x).kind))) {
      assert.equal((o as { metadata: { namespace?: string } }).metadata.namespace, 'kube-flannel', refOf(o).kind);
    }
  });
});

describe('RBAC', () => {
  it('the ClusterRole grants exactly what flanneld uses, on core resources, without wildcards', () => {
    const role = findObject<IClusterRole>(objects, 'ClusterRole', 'flannel');
    const grants = (role.rules ?? []).flatMap((r) => {
      assert.deepEqual(r.apiGroups, ['']);
      assert.equal(r.resourceNames, undefined);
      return (r.resources ?? []).flatMap((res) => r.verbs.map((verb) => `${res}:${verb}`));
    });
    assert.deepEqual(grants.sort(), ['nodes/status:patch', 'nodes:get', 'nodes:list', 'nodes:patch', 'nodes:watch', 'pods:get']);
  });

  it('binds the role to the flannel service account in its namespace', () => {
    const binding = findObject<IClusterRoleBinding>(objects, 'ClusterRoleBinding', 'flannel');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-flannel' }]);
    assert.equal(podSpec().serviceAccountName, 'flannel');
    findObject(objects, 'ServiceAccount', 'flannel');
  });
});

describe('ConfigMap kube-flannel-cfg', () => {
  it('net-conf.json is the default network and flanneld\'s parser accepts it', () => {
    const text = configData()['net-conf.json'] ?? assert.fail('no net-conf.json');
    assert.deepEqual(JSON.parse(text), { Network: '10.244.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });
    const config = parseNetworkConfig(text, { source: 'net-conf.json' });
    assert.equal(config.v4?.network.toString(), '10.244.0.0/16');
    assert.equal(config.v6, undefined);
    assert.equal(config.backend.type, 'vxlan');
    assert.equal(config.enableNFTables, false);
    assert.deepEqual(config.warnings, []);
  });

  it('cni-conf.json is the conflist (and deploy/cni/10-flannel.conflist, when present)', () => {
    const text = configData()['cni-conf.json'] ?? assert.fail('no cni-conf.json');
    assert.deepEqual(JSON.parse(text), CNI_CONFLIST);
    assert.deepEqual(JSON.parse(text), {
      name: 'cbr0',
      cniVersion: '0.3.1',
      plugins: [
        { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
    const shipped = repoPath(`deploy/cni/${CONFLIST_NAME}`);
    if (existsSync(shipped)) assert.deepEqual(JSON.parse(readFileSync(shipped, 'utf8')), JSON.parse(text));
  });
});

describe('DaemonSet kube-flannel-ds', () => {
  it('runs one pod per Linux node, on the host network, ahead of ordinary pods, whatever the taints', () => {
    const ds = daemonSet();
    const spec = podSpec();
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.priorityClassName, 'system-node-critical');
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
    // No key and no effect with operator Exists: tolerates NoSchedule, NoExecute and PreferNoSchedule alike.
    assert.equal(spec.tolerations?.[0]?.key, undefined);
    assert.equal(spec.tolerations?.[0]?.effect, undefined);
    assert.deepEqual(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
      { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] },
    ]);
    assert.equal(ds.spec?.updateStrategy?.type, 'RollingUpdate');
    const selector = ds.spec?.selector.matchLabels ?? {};
    for (const [k, val] of Object.entries(selector)) assert.equal(ds.spec?.template.metadata?.labels?.[k], val);
  });

  it('flanneld runs in subnet-manager mode with masquerade and the health server, and its parser accepts the flags', () => {
    const c = container('kube-flannel');
    assert.equal(c.image, `flannel-ts:${version}`);
    assert.deepEqual(c.command, [IMAGE.flanneld, '--ip-masq', '--kube-subnet-mgr', '--healthz-ip=0.0.0.0', `--healthz-port=${DEFAULT_HEALTHZ_PORT}`]);
    assert.equal(c.args, undefined);
    const options = parseDaemonOptions(c.command?.slice(1) ?? [], {});
    assert.equal(options.subnetManager, 'kube');
    assert.equal(options.ipMasq, true);
    assert.deepEqual(options.healthz, { ip: '0.0.0.0', port: DEFAULT_HEALTHZ_PORT });
    // flanneld's defaults land inside the mounts: net-conf.json from the ConfigMap, subnet.env on the host.
    assert.ok(options.kube.netConfigPath.startsWith(MOUNT.config));
    assert.ok(configData()[options.kube.netConfigPath.slice(MOUNT.config.length)]);
    assert.ok(options.subnetFile.startsWith(`${MOUNT.run}/`));
  });

  it('probes the health server: /healthz for liveness, /readyz for readiness, on the --healthz-port', () => {
    const c = container('kube-flannel');
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: DEFAULT_HEALTHZ_PORT });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: DEFAULT_HEALTHZ_PORT });
    assert.notEqual(DEFAULT_HEALTHZ_PORT, 10256, 'kube-proxy listens on 10256 on every node');
  });

  it('flanneld gets its pod and node names and the event queue depth from the environment', () => {
    const env = container('kube-flannel').env ?? [];
    const byName = new Map(env.map((e) => [e.name, e]));
    assert.equal(byName.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
    assert.equal(byName.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    assert.equal(byName.get('NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    assert.equal(byName.get('EVENT_QUEUE_DEPTH')?.value, '5000');
  });

  it('flanneld is not privileged: NET_ADMIN and NET_RAW only, with resource requests', () => {
    const c = container('kube-flannel');
    assert.deepEqual(c.securityContext, { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '50Mi' } });
  });

  it('mounts the host paths flannel uses, each volume a hostPath (xtables.lock created if missing)', () => {
    const spec = podSpec();
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const hostPathOf = (mountPath: string, c = container('kube-flannel')) => {
      const m = c.volumeMounts?.find((x) => x.mountPath === mountPath) ?? assert.fail(`${c.name} does not mount ${mountPath}`);
      return volumes.get(m.name) ?? assert.fail(`no volume ${m.name}`);
    };
    assert.deepEqual(hostPathOf(MOUNT.run).hostPath, { path: '/run/flannel' });
    assert.deepEqual(hostPathOf(MOUNT.xtablesLock).hostPath, { path: '/run/xtables.lock', type: 'FileOrCreate' });
    assert.deepEqual(hostPathOf(MOUNT.cniConf).hostPath, { path: '/etc/cni/net.d' });
    assert.deepEqual(hostPathOf(MOUNT.cniBin).hostPath, { path: '/opt/cni/bin' });
    assert.deepEqual(hostPathOf(MOUNT.config).configMap, { name: 'kube-flannel-cfg' });
    assert.deepEqual(hostPathOf(MOUNT.cniBin, container('install-cni-plugin')).hostPath, { path: '/opt/cni/bin' });
    assert.deepEqual(hostPathOf(MOUNT.cniConf, container('install-cni')).hostPath, { path: '/etc/cni/net.d' });
    assert.deepEqual(hostPathOf(MOUNT.config, container('install-cni')).configMap, { name: 'kube-flannel-cfg' });
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${c.name} mounts unknown volume ${m.name}`);
    }
  });

  it('install-cni copies cni-conf.json to the node as 10-flannel.conflist', () => {
    const c = container('install-cni');
    assert.deepEqual([...(c.command ?? []), ...(c.args ?? [])], ['cp', '-f', `${MOUNT.config}cni-conf.json`, `${MOUNT.cniConf}/${CONFLIST_NAME}`]);
    assert.deepEqual(podSpec().initContainers?.map((x) => x.name), ['install-cni-plugin', 'install-cni']);
  });
});

describe('install-cni-plugin on a node (the script, run against scratch directories)', () => {
  let dir: string;
  let script: string;
  const run = (plugins: string) => spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, CNI_PLUGINS_FROM_IMAGE: plugins } });
  const host = (name: string) => join(dir, 'host-bin', name);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'flt-deploy-'));
    const c = container('install-cni-plugin');
    assert.deepEqual(c.command?.slice(0, 2), ['/bin/sh', '-c']);
    const env = c.env?.find((e) => e.name === 'CNI_PLUGINS_FROM_IMAGE');
    assert.equal(env?.value, 'bridge host-local portmap loopback');
    // The image's paths and the host mount, moved into the scratch directory.
    script = (c.command?.[2] ?? '')
      .replaceAll(IMAGE.cniPlugin, join(dir, 'image-bin', 'flannel'))
      .replaceAll(IMAGE.referencePluginsDir, join(dir, 'image-ref'))
      .replaceAll(MOUNT.cniBin, join(dir, 'host-bin'));
    for (const d of ['image-bin', 'image-ref', 'host-bin']) mkdirSync(join(dir, d));
    const exe = (path: string, text: string) => {
      writeFileSync(path, text);
      chmodSync(path, 0o755);
    };
    exe(join(dir, 'image-bin', 'flannel'), 'flannel v2');
    for (const p of ['bridge', 'host-local', 'portmap', 'loopback']) exe(join(dir, 'image-ref', p), `image ${p}`);
    exe(host('flannel'), 'flannel v1');
    exe(host('bridge'), 'node bridge');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the flannel plugin, adds missing reference plugins, keeps the node\'s own', () => {
    const r = run('bridge host-local portmap loopback');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(host('flannel'), 'utf8'), 'flannel v2');
    assert.equal(readFileSync(host('bridge'), 'utf8'), 'node bridge');
    for (const p of ['host-local', 'portmap', 'loopback']) {
      assert.equal(readFileSync(host(p), 'utf8'), `image ${p}`);
      assert.equal(statSync(host(p)).mode & 0o111, 0o111, `${p} is executable`);
    }
    assert.match(r.stdout, /kept the node's own CNI plugin bridge/);
    assert.match(r.stdout, /installed the CNI plugin portmap from the image/);
    assert.deepEqual(readdirSync(join(dir, 'host-bin')).filter((n) => n.includes('tmp')), []);
  });

  it('installs only the flannel plugin when the list is empty, and fails on an unknown plugin', () => {
    assert.equal(run('').status, 0);
    const r = run('no-such-plugin');
    assert.notEqual(r.status, 0);
  });
});
