/**
 * deploy/chart/kube-flannel: rendered (by the test renderer, standing in for `helm template`)
 * with its default values it yields exactly the plain manifest's objects; with other values,
 * each value reaches the fields it feeds, empty values leave no trace, and every rendering is
 * schema-valid and equal to what the generator resolves for the same values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseDaemonOptions, parseNetworkConfig } from '../../src/config/index.ts';
import { parseExtensionConfig } from '../../src/backend/extension/config.ts';
import { parseIpipConfig } from '../../src/backend/ipip/config.ts';
import { parseUdpConfig } from '../../src/backend/udp/config.ts';
import { parseVxlanConfig } from '../../src/backend/vxlan/config.ts';
import { parseWireguardConfig } from '../../src/backend/wireguard/config.ts';
import { createBackends } from '../../src/daemon/compose.ts';
import { DEFAULT_KEY_FILE } from '../../src/wireguard/key-file.ts';
import { CHART_DIR, MANIFEST_PATH, packageVersion } from '../../src/deploy/files.ts';
import { IMAGE, MOUNT } from '../../src/deploy/image-layout.ts';
import { resolveObjects } from '../../src/deploy/manifest.ts';
import { manifestDocs } from '../../src/deploy/objects/index.ts';
import { chartValues, renderChart, type Values } from '../../src/deploy/testing/render-chart.ts';
import { findObject, parseDocuments, refOf, sortObjects } from '../../src/deploy/testing/objects.ts';
import { validateObject } from '../../src/deploy/testing/validate.ts';
import { VALUE_HELP, defaultValues, type ChartValues } from '../../src/deploy/values.ts';

const root = new URL('../../', import.meta.url);
const chartDir = join(root.pathname, CHART_DIR);
const version = packageVersion(root);

interface Rendered {
  objects: readonly unknown[];
  podSpec: IPodSpec;
  container(name: string): IContainer | undefined;
  netConf: string;
}

function render(override: Values): Rendered {
  const { objects } = renderChart(chartDir, override);
  for (const o of objects) validateObject(o);
  // The generator, given the same merged values, must resolve to the same objects. The values
  // come from YAML; the chart's own values.yaml is checked to be a ChartValues below.
  const expected = resolveObjects(manifestDocs(), chartValues(chartDir, override) as unknown as ChartValues);
  assert.deepEqual(sortObjects(objects), sortObjects(expected));
  const ds = findObject<IDaemonSet>(objects, 'DaemonSet');
  const podSpec = ds.spec?.template.spec ?? assert.fail('no pod spec');
  const all = [...(podSpec.initContainers ?? []), ...podSpec.containers];
  const netConf = findObject<IConfigMap>(objects, 'ConfigMap').data?.['net-conf.json'] ?? assert.fail('no net-conf.json');
  return { objects, podSpec, container: (name) => all.find((c) => c.name === name), netConf };
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const flanneld = (r: Rendered) => r.container('kube-flannel') ?? assert.fail('no kube-flannel container');
const hostPath = (r: Rendered, volume: string) => r.podSpec.volumes?.find((v) => v.name === volume)?.hostPath?.path;

describe('chart files', () => {
  it('values.yaml holds exactly the generator\'s defaults', () => {
    assert.deepEqual(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')), defaultValues(version));
  });

  it('values.yaml has a comment for every value (groups, or the values in them)', () => {
    const documented = Object.keys(VALUE_HELP);
    const check = (value: unknown, path: string): void => {
      const children = isPlainObject(value) && documented.some((k) => k.startsWith(`${path}.`));
      if (path) assert.ok(children || documented.includes(path), `${path} has no comment in VALUE_HELP`);
      if (isPlainObject(value) && (children || !path)) for (const [k, v] of Object.entries(value)) check(v, path ? `${path}.${k}` : k);
    };
    check(defaultValues(version), '');
  });

  it('Chart.yaml names the chart and its version', () => {
    const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(chart, {
      apiVersion: 'v2',
      name: 'flannel',
      description: chart.description,
      type: 'application',
      version,
      appVersion: version,
      keywords: chart.keywords,
    });
  });
});

describe('chart rendered with its default values', () => {
  it('yields exactly the objects of kube-flannel.yml', () => {
    const manifest = parseDocuments(readFileSync(join(root.pathname, MANIFEST_PATH), 'utf8'));
    const { objects } = renderChart(chartDir);
    assert.deepEqual(sortObjects(objects), sortObjects(manifest));
    assert.deepEqual(objects.map(refOf).length, 6);
  });
});

describe('chart rendered with custom values', () => {
  it('podCidr becomes net-conf.json\'s Network', () => {
    const r = render({ podCidr: '10.100.0.0/16' });
    assert.equal(parseNetworkConfig(r.netConf).v4?.network.toString(), '10.100.0.0/16');
  });

  it('vxlan settings reach the Backend section, as the vxlan backend reads them, with no warning', () => {
    const r = render({ flannel: { vni: 4, backendPort: 4789, mtu: 1400, directRouting: true, GBP: true } });
    const backend = parseNetworkConfig(r.netConf).backend;
    const { config, warnings } = parseVxlanConfig(backend.raw);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, { vni: 4, port: 4789, gbp: true, learning: false, directRouting: true, mtu: 1400 });
  });

  it('dual stack, IPv6 only, and nftables', () => {
    const dual = parseNetworkConfig(render({ podCidrv6: 'fd00:10:244::/56' }).netConf);
    assert.equal(dual.v4?.network.toString(), '10.244.0.0/16');
    assert.equal(dual.v6?.network.toString(), 'fd00:10:244::/56');
    const v6only = parseNetworkConfig(render({ podCidr: '', podCidrv6: 'fd00:10:244::/56' }).netConf);
    assert.equal(v6only.enableIPv4, false);
    assert.equal(v6only.v4, undefined);
    assert.equal(parseNetworkConfig(render({ flannel: { enableNFTables: true } }).netConf).enableNFTables, true);
  });

  it('the image reaches every container', () => {
    const r = render({ flannel: { image: { repository: 'registry.example.com/net/flannel-ts', tag: '9.9.9' } } });
    for (const name of ['install-cni-plugin', 'install-cni', 'kube-flannel']) {
      assert.equal(r.container(name)?.image, 'registry.example.com/net/flannel-ts:9.9.9');
    }
  });

  it('args and extraArgs reach flanneld\'s command line, which flanneld accepts', () => {
    const r = render({ flannel: { args: ['--kube-subnet-mgr', '--iface=eth1'], extraArgs: ['--v=2'] } });
    const command = flanneld(r).command ?? [];
    assert.deepEqual(command, [IMAGE.flanneld, '--kube-subnet-mgr', '--iface=eth1', '--healthz-ip=0.0.0.0', '--healthz-port=8081', '--v=2']);
    const options = parseDaemonOptions(command.slice(1), {});
    assert.equal(options.ipMasq, false);
    assert.deepEqual(options.interfaces.iface, ['eth1']);
    assert.equal(options.verbosity, 2);
  });

  it('healthz.port moves the flag and both probes; 0 drops them', () => {
    const moved = flanneld(render({ flannel: { healthz: { port: 9099 } } }));
    assert.ok(moved.command?.includes('--healthz-port=9099'));
    assert.equal(moved.livenessProbe?.httpGet?.port, 9099);
    assert.equal(moved.readinessProbe?.httpGet?.port, 9099);
    const off = flanneld(render({ flannel: { healthz: { port: 0 } } }));
    assert.deepEqual(off.command, [IMAGE.flanneld, '--ip-masq', '--kube-subnet-mgr']);
    assert.equal(off.livenessProbe, undefined);
    assert.equal(off.readinessProbe, undefined);
  });

  it('cniBinDir and cniConfDir become the host paths', () => {
    const r = render({ flannel: { cniBinDir: '/var/lib/rancher/k3s/data/cni', cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d' } });
    assert.equal(hostPath(r, 'cni-plugin'), '/var/lib/rancher/k3s/data/cni');
    assert.equal(hostPath(r, 'cni'), '/var/lib/rancher/k3s/agent/etc/cni/net.d');
  });

  it('empty lists and maps leave no field behind (a map is emptied with null, as in Helm)', () => {
    const r = render({ flannel: { tolerations: [], resources: null, nodeSelector: {}, args: [] } });
    assert.equal(r.podSpec.tolerations, undefined);
    assert.equal(r.podSpec.nodeSelector, undefined);
    assert.equal(r.podSpec.imagePullSecrets, undefined);
    assert.equal(flanneld(r).resources, undefined);
    assert.deepEqual(flanneld(r).command, [IMAGE.flanneld, '--healthz-ip=0.0.0.0', '--healthz-port=8081']);
  });

  it('set lists and maps appear as given (maps merge into the defaults, lists replace them)', () => {
    const r = render({
      global: { imagePullSecrets: [{ name: 'regcred' }] },
      flannel: {
        nodeSelector: { 'flannel-ts': 'yes' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }],
        resources: { requests: { cpu: '50m' }, limits: { memory: '200Mi' } },
      },
    });
    assert.deepEqual(r.podSpec.imagePullSecrets, [{ name: 'regcred' }]);
    assert.deepEqual(r.podSpec.nodeSelector, { 'flannel-ts': 'yes' });
    assert.deepEqual(r.podSpec.tolerations, [{ effect: 'NoSchedule', key: 'dedicated', operator: 'Equal', value: 'net' }]);
    assert.deepEqual(flanneld(r).resources, { limits: { memory: '200Mi' }, requests: { cpu: '50m', memory: '50Mi' } });
  });

  it('skipCNIConfigInstallation drops install-cni; cniPluginsFromImage reaches the installer', () => {
    const r = render({ flannel: { skipCNIConfigInstallation: true, cniPluginsFromImage: '' } });
    assert.deepEqual(r.podSpec.initContainers?.map((c) => c.name), ['install-cni-plugin']);
    assert.deepEqual(r.container('install-cni-plugin')?.env, [{ name: 'CNI_PLUGINS_FROM_IMAGE', value: '' }]);
  });

  it('namespace moves every namespaced object and the binding\'s subject; createNamespace false drops the Namespace', () => {
    const r = render({ namespace: 'flannel-system', createNamespace: false });
    assert.equal(r.objects.filter((o) => refOf(o).kind === 'Namespace').length, 0);
    for (const o of r.objects.filter((x) => !['ClusterRole', 'ClusterRoleBinding'].includes(refOf(x).kind))) {
      assert.equal((o as { metadata: { namespace?: string } }).metadata.namespace, 'flannel-system', refOf(o).kind);
    }
    assert.equal(findObject<IClusterRoleBinding>(r.objects, 'ClusterRoleBinding').subjects?.[0]?.namespace, 'flannel-system');
  });
});

// ---- the backends: each one's values, and only its own, reach net-conf.json ----

/** A command with what shell lines hold (quotes, $, &&, >, |, <): Helm's toJson escapes some of it. */
const SHELL = `ip route replace "$SUBNET" via $PUBLIC_IP dev eth0 && echo added >> /tmp/log 2>&1 || cat < /dev/null | true`;
const PSK = 'GKmMYB0Wea2Ul8i0OqCfBJRoXRRMI0CzBSUjLObJMXE=';

/** Every backend value set at once: each backend must take exactly its own. */
const EVERY_BACKEND_VALUE = {
  backendPort: 4789,
  mtu: 1400,
  directRouting: true,
  vni: 7,
  GBP: true,
  macPrefix: '0E-2A',
  backendPortv6: 51830,
  psk: PSK,
  tunnelMode: 'auto',
  keepaliveInterval: 25,
  extension: { preStartupCommand: 'echo \'"data"\'', postStartupCommand: 'echo up > /run/flannel/ext', subnetAddCommand: SHELL, subnetRemoveCommand: 'ip route del $SUBNET' },
};

interface BackendCase {
  /** The Backend section rendered from EVERY_BACKEND_VALUE. */
  section: Record<string, unknown>;
  /** The backend's own parser: its effective configuration and warnings. */
  parse?: (raw: Record<string, unknown>) => { config: unknown; warnings: string[] };
  config?: unknown;
  warnings?: string[];
  /** Whether the pod gets the node's /dev/net/tun. */
  tun: boolean;
}

const BACKENDS: Record<string, BackendCase> = {
  vxlan: {
    section: { Port: 4789, VNI: 7, GBP: true, DirectRouting: true, MTU: 1400, MacPrefix: '0E-2A', Type: 'vxlan' },
    parse: parseVxlanConfig,
    config: { vni: 7, port: 4789, gbp: true, learning: false, directRouting: true, mtu: 1400 },
    warnings: ['Backend.MacPrefix is only used on Windows and is ignored'],
    tun: false,
  },
  'host-gw': { section: { Type: 'host-gw' }, tun: false },
  wireguard: {
    section: { ListenPort: 4789, ListenPortV6: 51830, MTU: 1400, PSK, Mode: 'auto', PersistentKeepaliveInterval: 25, Type: 'wireguard' },
    parse: parseWireguardConfig,
    config: { psk: PSK, listenPort: 4789, listenPortV6: 51830, persistentKeepaliveInterval: 25, mode: 'auto', mtu: 1400, implementation: 'auto' },
    tun: true,
  },
  udp: { section: { Port: 4789, Type: 'udp' }, parse: parseUdpConfig, config: { port: 4789 }, tun: true },
  ipip: { section: { DirectRouting: true, Type: 'ipip' }, parse: parseIpipConfig, config: { directRouting: true }, tun: false },
  extension: {
    section: {
      PreStartupCommand: 'echo \'"data"\'',
      PostStartupCommand: 'echo up > /run/flannel/ext',
      SubnetAddCommand: SHELL,
      SubnetRemoveCommand: 'ip route del $SUBNET',
      Type: 'extension',
    },
    parse: parseExtensionConfig,
    config: { preStartupCommand: 'echo \'"data"\'', postStartupCommand: 'echo up > /run/flannel/ext', subnetAddCommand: SHELL, subnetRemoveCommand: 'ip route del $SUBNET' },
    tun: false,
  },
};

const tunVolume = (r: Rendered) => r.podSpec.volumes?.find((vol) => vol.hostPath?.path === MOUNT.tun);

describe('chart values per backend', () => {
  it('the backends the chart offers are the ones flanneld runs, and values.yaml names them all', () => {
    const runs = createBackends().types;
    const help = (VALUE_HELP['flannel.backend'] ?? []).join(' ');
    for (const type of Object.keys(BACKENDS)) {
      assert.ok(runs.includes(type), `flanneld has no backend ${type}`);
      assert.ok(help.includes(type), `values.yaml does not name ${type}`);
    }
  });

  for (const [type, c] of Object.entries(BACKENDS)) {
    it(`${type}: its values and no other backend's reach the Backend section, which flanneld accepts as its parser reads it`, () => {
      const r = render({ flannel: { ...EVERY_BACKEND_VALUE, backend: type } });
      const config = parseNetworkConfig(r.netConf, { source: 'net-conf.json' });
      assert.deepEqual(config.warnings, []);
      assert.deepEqual(config.backend.raw, c.section);
      assert.equal(config.backend.type, type);
      // flanneld's own check at start (families included: udp and ipip carry IPv4 only).
      assert.deepEqual(createBackends().get(type).checkConfig(config).warnings, c.warnings ?? []);
      if (c.parse) {
        const parsed = c.parse(config.backend.raw);
        assert.deepEqual(parsed.config, c.config);
        assert.deepEqual(parsed.warnings, c.warnings ?? []);
      }
    });

    it(`${type}: with the values at their defaults only Type is written, and the backend's defaults apply`, () => {
      const r = render({ flannel: { backend: type } });
      assert.deepEqual(JSON.parse(r.netConf).Backend, { Type: type });
      const config = parseNetworkConfig(r.netConf);
      if (type === 'extension') {
        assert.match(createBackends().get(type).checkConfig(config).warnings.join(), /SubnetAddCommand is not set/);
      } else {
        assert.deepEqual(createBackends().get(type).checkConfig(config).warnings, []);
      }
    });

    it(`${type}: the pod ${c.tun ? 'gets' : 'does not get'} the node's /dev/net/tun, and flanneld stays unprivileged`, () => {
      const r = render({ flannel: { backend: type } });
      const mount = flanneld(r).volumeMounts?.find((m) => m.mountPath === MOUNT.tun);
      if (c.tun) {
        assert.deepEqual(tunVolume(r)?.hostPath, { path: MOUNT.tun, type: 'CharDevice' });
        assert.equal(mount?.name, tunVolume(r)?.name);
        assert.equal(mount?.readOnly, undefined);
      } else {
        assert.equal(tunVolume(r), undefined);
        assert.equal(mount, undefined);
      }
      assert.deepEqual(flanneld(r).securityContext, { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    });
  }

  it('udp and wireguard defaults: Port 8285, ListenPort 51820 / 51821, Mode separate, no PSK', () => {
    assert.deepEqual(parseUdpConfig(JSON.parse(render({ flannel: { backend: 'udp' } }).netConf).Backend).config, { port: 8285 });
    const wg = parseWireguardConfig(JSON.parse(render({ flannel: { backend: 'wireguard' } }).netConf).Backend).config;
    assert.deepEqual(wg, { listenPort: 51820, listenPortV6: 51821, persistentKeepaliveInterval: 0, mode: 'separate', implementation: 'auto' });
  });

  it('wireguard\'s private key file is on the node (the run hostPath), so a restarted pod keeps its public key', () => {
    const r = render({ flannel: { backend: 'wireguard' } });
    assert.ok(DEFAULT_KEY_FILE.startsWith(`${MOUNT.run}/`), DEFAULT_KEY_FILE);
    const run = flanneld(r).volumeMounts?.find((m) => m.mountPath === MOUNT.run);
    assert.equal(hostPath(r, run?.name ?? ''), MOUNT.run);
  });

  it('shell commands keep their quotes and operators through Helm\'s toJson escaping (& < > as \\u00XX)', () => {
    const r = render({ flannel: { backend: 'extension', extension: { subnetAddCommand: SHELL } } });
    assert.ok(r.netConf.includes('"SubnetAddCommand": "ip route replace \\"$SUBNET\\" via $PUBLIC_IP dev eth0 \\u0026\\u0026 echo added \\u003e\\u003e'), r.netConf);
    assert.equal(JSON.parse(r.netConf).Backend.SubnetAddCommand, SHELL);
  });

  it('a bad value is refused by flanneld with a message naming the key (the chart does not validate)', () => {
    const check = (flannel: Values) => () => createBackends().get('wireguard').checkConfig(parseNetworkConfig(render({ flannel: { backend: 'wireguard', ...flannel } }).netConf));
    assert.throws(check({ tunnelMode: 'both' }), { code: 'E_BACKEND_CONFIG', message: /^Backend\.Mode must be one of "separate", "auto", "ipv4", "ipv6", got string "both"/ });
    assert.throws(check({ psk: 'not-a-key' }), { code: 'E_BACKEND_CONFIG', message: /^Backend\.PSK must be a 32-byte base64 key/ });
  });

  it('udp and ipip with podCidrv6 set: flanneld refuses IPv6 (the chart writes what it is given)', () => {
    for (const type of ['udp', 'ipip']) {
      const config = parseNetworkConfig(render({ podCidrv6: 'fd00:10:244::/56', flannel: { backend: type } }).netConf);
      assert.throws(() => createBackends().get(type).checkConfig(config), { code: 'E_BACKEND_CONFIG', message: /EnableIPv6/ }, type);
    }
  });
});
