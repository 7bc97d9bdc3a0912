/**
 * The Dockerfile (no engine runs here, so it is parsed, not built): its stages, and an image
 * layout that has every path the DaemonSet uses. Also the systemd files and deploy/README.md,
 * against flanneld's flag table and the chart values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { FLAGS, envName, parseDaemonOptions } from '../../src/config/index.ts';
import { MANIFEST_PATH, packageVersion } from '../../src/deploy/files.ts';
import { IMAGE } from '../../src/deploy/image-layout.ts';
import { lookup } from '../../src/deploy/template/index.ts';
import { findObject, parseDocuments } from '../../src/deploy/testing/objects.ts';
import { VALUE_HELP, defaultValues } from '../../src/deploy/values.ts';
import { DEFAULT_UDP_PORT } from '../../src/backend/udp/config.ts';
import { DEFAULT_LISTEN_PORT, DEFAULT_LISTEN_PORT_V6 } from '../../src/backend/wireguard/config.ts';
import { createBackends } from '../../src/daemon/compose.ts';
import { findAddon } from '../../src/tun/addon.ts';
import { WIREGUARD_GO_PACKAGE } from '../../src/wireguard/userspace.ts';

const root = new URL('../../', import.meta.url).pathname;
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');
const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };

// ---- a small Dockerfile reader: instructions, continuation lines joined, grouped by stage ----

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  steps: Instruction[];
}

function readDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of joined) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? assert.fail(`bad FROM ${args}`);
      stages.push({ image: m[1] ?? '', ...(m[2] ? { name: m[2] } : {}), steps: [] });
    } else {
      (stages[stages.length - 1] ?? assert.fail('instruction before FROM')).steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

/** COPY instructions of a stage, destinations made absolute against WORKDIR. */
function copies(stage: Stage): Copy[] {
  let workdir = '/';
  const out: Copy[] = [];
  for (const s of stage.steps) {
    if (s.op === 'WORKDIR') workdir = posix.resolve(workdir, s.args);
    if (s.op !== 'COPY') continue;
    const words = s.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = paths.pop() ?? assert.fail('COPY without destination');
    out.push({ ...(from ? { from } : {}), sources: paths, dest: posix.resolve(workdir, dest) });
  }
  return out;
}

const runs = (stage: Stage) => stage.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' && ');
/** The words of a stage's `apt-get install` commands (options included). */
const aptInstalls = (stage: Stage) => [...runs(stage).matchAll(/apt-get install ([^&]*)/g)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/));
const workdirOf = (stage: Stage) => stage.steps.filter((s) => s.op === 'WORKDIR').map((s) => s.args).pop() ?? '/';

const stages = readDockerfile(read('Dockerfile'));
const stage = (name: string) => stages.find((s) => s.name === name) ?? assert.fail(`no stage ${name}`);
const runtime = stages[stages.length - 1] ?? assert.fail('no stages');
const runtimeCopies = copies(runtime);
const copyTo = (dest: string) => runtimeCopies.find((c) => c.dest === dest) ?? assert.fail(`the image has nothing at ${dest}`);

const objects = parseDocuments(read(MANIFEST_PATH));
const podSpec = () => findObject<IDaemonSet>(objects, 'DaemonSet').spec?.template.spec ?? assert.fail('no pod spec');

describe('Dockerfile', () => {
  it('builds in node:20-bookworm-slim: npm ci, the TypeScript build and the compiled CNI plugin', () => {
    const build = stage('build');
    assert.equal(build.image, 'node:20-bookworm-slim');
    const script = runs(build);
    for (const step of ['npm ci', 'npm run build', 'npm run build:cni']) assert.ok(script.includes(step), step);
    assert.ok(pkg.scripts.build && pkg.scripts['build:cni'], 'package.json has the build scripts');
  });

  it('ships production dependencies only, from npm ci --omit=dev', () => {
    const deps = stage('deps');
    assert.equal(deps.image, 'node:20-bookworm-slim');
    assert.ok(runs(deps).includes('npm ci --omit=dev'));
    assert.equal(copyTo(`${IMAGE.appDir}/node_modules`).from, 'deps');
  });

  it('runs on node:20-bookworm-slim with the tools flanneld drives and the reference CNI plugins', () => {
    assert.equal(runtime.image, 'node:20-bookworm-slim');
    const install = aptInstalls(runtime);
    for (const p of ['iptables', 'nftables', 'iproute2', 'ethtool', 'containernetworking-plugins']) assert.ok(install.includes(p), p);
    // Debian's containernetworking-plugins puts bridge, host-local, portmap and loopback in
    // /usr/lib/cni: where install-cni-plugin copies them from.
    const script = podSpec().initContainers?.find((c) => c.name === 'install-cni-plugin')?.command?.[2] ?? '';
    assert.ok(script.includes(`"${IMAGE.referencePluginsDir}/$p"`));
  });

  it('puts the CNI plugin where install-cni-plugin copies it from (dist/bin/flannel of build:cni)', () => {
    const plugin = copyTo(IMAGE.cniPlugin);
    assert.equal(plugin.from, 'build');
    const [source] = plugin.sources;
    assert.ok(source && runs(stage('build')).includes(`mv dist/bin/flannel ${source}`), `build stage makes ${source} from dist/bin/flannel`);
    assert.ok(read('scripts/build-cni.mjs').includes("'dist/bin/flannel'"), 'build:cni writes dist/bin/flannel');
    const script = podSpec().initContainers?.find((c) => c.name === 'install-cni-plugin')?.command?.[2] ?? '';
    assert.ok(script.includes(`install_file ${IMAGE.cniPlugin} /opt/cni/bin/flannel`));
  });

  it('starts flanneld from the path the DaemonSet runs, through the wrapper, on the built dist/', () => {
    const entrypoint = JSON.parse(runtime.steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    assert.deepEqual(entrypoint, [IMAGE.flanneld]);
    assert.equal(podSpec().containers.find((c) => c.name === 'kube-flannel')?.command?.[0], IMAGE.flanneld);
    const wrapper = copyTo(IMAGE.flanneld);
    assert.deepEqual(wrapper.sources, ['deploy/image/flanneld']);
    assert.ok(statSync(join(root, 'deploy/image/flanneld')).mode & 0o100, 'the wrapper is executable in the repository');
    // The wrapper runs package.json's flanneld bin inside the app directory the image fills.
    assert.equal(workdirOf(runtime), IMAGE.appDir);
    assert.ok(read('deploy/image/flanneld').includes(`exec node ${IMAGE.appDir}/${pkg.bin.flanneld} "$@"`));
    assert.equal(copyTo(`${IMAGE.appDir}/dist`).from, 'build');
    assert.equal(copyTo(IMAGE.appDir).sources.join(), 'package.json', 'package.json ("type": "module") is in the app directory');
  });

  it('has wireguard-go (kernels without WireGuard) and wg, without the kernel wireguard-tools recommends', () => {
    const install = aptInstalls(runtime);
    for (const p of ['wireguard-go', 'wireguard-tools']) assert.ok(install.includes(p), p);
    // Every apt-get install of the image, not just this one: a recommended kernel must never come in.
    for (const m of runs(runtime).matchAll(/apt-get install ([^&]*)/g)) assert.ok(m[1]?.includes('--no-install-recommends'), m[0]);
    // The wireguard backend runs the wireguard-go it finds on PATH; Debian's package puts it in /usr/bin.
    assert.equal(posix.basename(IMAGE.wireguardGo), WIREGUARD_GO_PACKAGE);
    assert.ok(!runtime.steps.some((s) => s.op === 'ENV' && /\bPATH=/.test(s.args)), 'the image keeps the base image\'s PATH (which has /usr/bin)');
  });

  it('builds the udp backend\'s TUN addon (node-gyp: python3, make, g++) from the copied source', () => {
    const build = stage('build');
    const install = aptInstalls(build);
    for (const p of ['--no-install-recommends', 'python3', 'make', 'g++']) assert.ok(install.includes(p), p);
    assert.equal(pkg.scripts['build:native'], 'node native/tun/build.mjs');
    // After COPY . . (native/ is in the stage), and before the TypeScript build that bundles its loader.
    const at = (pred: (s: Instruction) => boolean) => build.steps.findIndex(pred);
    const copiedSource = at((s) => s.op === 'COPY' && s.args === '. .');
    const built = at((s) => s.op === 'RUN' && s.args.includes('npm run build:native'));
    assert.ok(copiedSource >= 0 && built > copiedSource, 'npm run build:native runs after COPY . .');
  });

  it('every npm ci skips install scripts: the package\'s own (the addon) needs native/, copied later or never', () => {
    assert.ok(pkg.scripts.install?.includes('native/tun/build.mjs'), 'package.json builds the addon on install');
    for (const st of stages) {
      for (const m of runs(st).matchAll(/npm ci[^&]*/g)) assert.ok(m[0].includes('--ignore-scripts'), `${st.name ?? 'runtime'}: ${m[0]}`);
    }
  });

  it('ships only the compiled addon, from the build stage, where the udp backend loads it from', () => {
    const addon = copyTo(IMAGE.tunAddon);
    assert.equal(addon.from, 'build');
    // node-gyp writes build/Release/<target_name>.node under native/tun, in the build stage's workdir.
    const gyp = JSON.parse(read('native/tun/binding.gyp')) as { targets: { target_name: string }[] };
    const target = gyp.targets[0]?.target_name ?? assert.fail('binding.gyp has no target');
    assert.deepEqual(addon.sources, [posix.join(workdirOf(stage('build')), 'native/tun/build/Release', `${target}.node`)]);
    assert.equal(posix.basename(IMAGE.tunAddon), `${target}.node`);
    const fromNative = runtimeCopies.filter((c) => c.sources.some((src) => src.includes('/native/')));
    assert.deepEqual(fromNative, [addon], 'nothing else of native/ (sources, object files) goes into the image');
    // src/tun/addon.ts's own search, run over the image's layout: from dist/tun (tsc's output) and
    // from dist/cli (the bundle's chunks), it finds the copied file.
    const image = mkdtempSync(join(tmpdir(), 'flt-image-'));
    try {
      const inImage = (p: string) => join(image, p);
      mkdirSync(inImage(posix.dirname(IMAGE.tunAddon)), { recursive: true });
      writeFileSync(inImage(IMAGE.tunAddon), '');
      for (const from of ['dist/tun', 'dist/cli']) {
        mkdirSync(inImage(`${IMAGE.appDir}/${from}`), { recursive: true });
        assert.equal(findAddon(inImage(`${IMAGE.appDir}/${from}`)), inImage(IMAGE.tunAddon), from);
      }
      assert.equal(copyTo(`${IMAGE.appDir}/dist`).sources.join(), `${workdirOf(stage('build'))}/dist`);
    } finally {
      rmSync(image, { recursive: true, force: true });
    }
  });

  it('.dockerignore keeps host build output out of the context, but not what the build needs', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(p), p);
    for (const p of ['src', 'scripts', 'deploy', 'native', 'native/tun', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(!ignored.includes(p), `${p} must reach the build`);
    }
  });
});

// ---- systemd (etcd mode) ----

function envFile(text: string): { active: Record<string, string>; mentioned: string[] } {
  const active: Record<string, string> = {};
  const mentioned = [...text.matchAll(/\bFLANNELD_[A-Z0-9_]+/g)].map((m) => m[0]);
  for (const line of text.split('\n')) {
    const m = /^(FLANNELD_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) active[m[1]] = m[2];
  }
  return { active, mentioned };
}

const FLAG_ENV = new Set(FLAGS.map((f) => envName(f.name)));

describe('systemd unit for etcd mode', () => {
  const env = envFile(read('deploy/systemd/flanneld.env'));

  it('every FLANNELD_ variable in flanneld.env and the README is one of flanneld\'s flags', () => {
    for (const name of [...env.mentioned, ...envFile(read('deploy/README.md')).mentioned]) assert.ok(FLAG_ENV.has(name), name);
  });

  it('flanneld.env configures etcd mode, and flanneld\'s parser accepts it', () => {
    const options = parseDaemonOptions([], env.active);
    assert.equal(options.subnetManager, 'etcd');
    assert.deepEqual(options.etcd.endpoints, ['http://127.0.0.1:2379']);
    assert.equal(options.etcd.prefix, '/coreos.com/network');
    assert.equal(options.ipMasq, true);
    assert.equal(options.subnetFile, '/run/flannel/subnet.env');
    assert.deepEqual(options.healthz, { ip: '127.0.0.1', port: 8081 });
  });

  it('the unit reads that file and starts the flanneld entry point', () => {
    const unit = read('deploy/systemd/flanneld.service');
    assert.match(unit, /^EnvironmentFile=\/etc\/flannel\/flanneld\.env$/m);
    assert.match(unit, new RegExp(`^ExecStart=/usr/bin/env node /opt/flannel-ts/${pkg.bin.flanneld}$`, 'm'));
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.ok(read('deploy/README.md').includes('/etc/flannel/flanneld.env'));
  });
});

describe('deploy/README.md', () => {
  const readme = read('deploy/README.md');
  /** The text under a heading, up to the next heading of any level. */
  const section = (heading: string): string => {
    const lines = readme.split('\n');
    const start = lines.indexOf(heading);
    assert.ok(start >= 0, `deploy/README.md has no "${heading}"`);
    const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l));
    return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
  };
  const tableKeys = [...section('### Chart values').matchAll(/^\| `([A-Za-z0-9.]+)` \|/gm)].map((m) => m[1] ?? '');
  const defaults = defaultValues(packageVersion(new URL(`file://${root}`)));

  it('documents every chart value, and only real ones', () => {
    for (const key of tableKeys) assert.notEqual(lookup(defaults, key), undefined, `${key} is not a chart value`);
    const documented = Object.keys(VALUE_HELP);
    const leaves = documented.filter((k) => !documented.some((o) => o.startsWith(`${k}.`)));
    for (const key of leaves) assert.ok(tableKeys.includes(key), `${key} is missing from the values table`);
  });

  it('says, for every backend the chart offers, what to open in firewalls and what the node needs', () => {
    const rows = new Map([...section('### Backends and firewalls').matchAll(/^\| `([a-z-]+)` \| (.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
    const offered = (VALUE_HELP['flannel.backend'] ?? []).join(' ');
    for (const type of createBackends().types.filter((t) => offered.includes(t))) assert.ok(rows.has(type), `no row for ${type}`);
    assert.deepEqual([...rows.keys()].sort(), ['extension', 'host-gw', 'ipip', 'udp', 'vxlan', 'wireguard']);
    assert.match(rows.get('vxlan') ?? '', /UDP 8472/);
    assert.match(rows.get('wireguard') ?? '', new RegExp(`UDP ${DEFAULT_LISTEN_PORT}\\b.*\\b${DEFAULT_LISTEN_PORT_V6}\\b.*IPv6`));
    assert.match(rows.get('wireguard') ?? '', /wireguard-go/);
    assert.match(rows.get('udp') ?? '', new RegExp(`UDP ${DEFAULT_UDP_PORT}\\b.*/dev/net/tun`));
    assert.match(rows.get('ipip') ?? '', /IP protocol 4\b.*modprobe ipip/);
  });

  it('names the same healthz port, pod network and commands as the manifest', () => {
    assert.ok(readme.includes(`--healthz-port=${defaults.flannel.healthz.port}`));
    assert.ok(readme.includes(`kubeadm init --pod-network-cidr=${defaults.podCidr}`));
    assert.ok(readme.includes(`kubectl apply -f ${MANIFEST_PATH}`));
    assert.ok(readme.includes('npm run generate:deploy'));
  });
});
