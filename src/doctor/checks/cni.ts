/**
 * @module doctor/checks/cni
 * cni.conflist: the runtime takes the first config of the conf dir, so the flannel conflist must
 * be it (a leftover Calico config sorting first wins, seed 000); cni.plugins: every plugin it
 * names is installed (ff#1847); cni.bridge-address: cni0 carries an address of FLANNEL_SUBNET
 * ("cni0 already has an IP address different from ...", ff#1850).
 */
import { z } from 'zod';
import { fail, ok, skip, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { cidrOf, errorOf, linkByName, subnetEnvOf, valueOf } from './common.ts';

const Ipam = z.object({ type: z.string().optional() }).passthrough();
const Plugin = z.object({ type: z.string(), ipam: Ipam.optional(), delegate: z.object({ type: z.string().optional() }).passthrough().optional() }).passthrough();
const ConfList = z.object({ plugins: z.array(Plugin) });
type Plugin = z.infer<typeof Plugin>;

interface Conf {
  readonly name: string;
  readonly plugins?: Plugin[];
  readonly error?: string;
}

function parseConf(name: string, text: string): Conf {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { name, error: `not JSON: ${(err as Error).message}` };
  }
  const isList = typeof json === 'object' && json !== null && 'plugins' in json;
  const r = isList ? ConfList.safeParse(json) : Plugin.transform((p) => ({ plugins: [p] })).safeParse(json);
  if (!r.success) return { name, error: `not a CNI config: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? 'invalid'}`.trim() };
  return { name, plugins: r.data.plugins };
}

function confs(f: NodeFacts): Conf[] | undefined {
  return valueOf(f.cni.confFiles)?.map((c) => parseConf(c.name, c.text));
}

const isFlannel = (c: Conf): boolean => c.plugins?.some((p) => p.type === 'flannel') === true;

function conflist(f: NodeFacts): CheckResult {
  const id = 'cni.conflist';
  const dir = f.cni.confDir;
  const all = confs(f);
  const install = `install the flannel conflist: ${dir}/10-flannel.conflist (kube-flannel's install-cni init container copies it from the ConfigMap kube-flannel-cfg, key cni-conf.json)`;
  if (!all) return fail(id, `cannot read ${dir}: ${errorOf(f.cni.confFiles) ?? ''}`, install);
  const names = all.map((c) => c.name);
  const flannel = all.find(isFlannel);
  if (!flannel) return fail(id, `${dir}: ${names.join(', ') || 'empty'}: no config uses the flannel plugin`, install);
  const first = all[0];
  if (first && first !== flannel) {
    return fail(
      id,
      `${dir}: ${names.join(', ')}: ${first.name} sorts before ${flannel.name}, so the runtime uses it${first.error ? ` (${first.error})` : ` (plugins: ${first.plugins?.map((p) => p.type).join(', ') ?? '?'})`}`,
      `remove the leftover: mv ${dir}/${first.name} /root/ (then restart the container runtime or kubelet so it re-reads ${dir})`,
    );
  }
  if (flannel.error) return fail(id, `${dir}/${flannel.name}: ${flannel.error}`, install);
  return ok(id, `${dir}: ${names.join(', ')}; ${flannel.name} is first (plugins: ${flannel.plugins?.map((p) => p.type).join(', ') ?? ''})`);
}

/** The executables the flannel conflist needs: flannel, its delegate (bridge) and IPAM (host-local), the chained plugins and their IPAM. */
function neededPlugins(plugins: readonly Plugin[]): string[] {
  const out: string[] = [];
  const add = (t: string | undefined): void => {
    if (t && !out.includes(t)) out.push(t);
  };
  for (const p of plugins) {
    add(p.type);
    if (p.type === 'flannel') {
      add(p.delegate?.type ?? 'bridge');
      add(p.ipam?.type ?? 'host-local');
    } else add(p.ipam?.type);
  }
  return out;
}

function plugins(f: NodeFacts): CheckResult {
  const id = 'cni.plugins';
  const flannel = confs(f)?.find(isFlannel);
  if (!flannel?.plugins) return skip(id, 'no usable flannel conflist (see cni.conflist)');
  const needed = neededPlugins(flannel.plugins);
  const dirs = f.cni.binDirs;
  const readable = dirs.filter((d) => 'value' in d.plugins);
  if (readable.length === 0) {
    return fail(id, `no CNI bin dir readable: ${dirs.map((d) => `${d.dir}: ${errorOf(d.plugins) ?? ''}`).join('; ') || 'none given'}`, 'install the CNI plugins into /opt/cni/bin (Debian: apt-get install containernetworking-plugins, then point --cni-bin-dir/kubelet at /usr/lib/cni)');
  }
  const found = new Map<string, string>();
  for (const d of readable) for (const p of valueOf(d.plugins) ?? []) if (!found.has(p)) found.set(p, d.dir);
  const missing = needed.filter((p) => !found.has(p));
  const dirList = dirs.map((d) => d.dir).join(', ');
  if (missing.length > 0) {
    const target = dirs[0]?.dir ?? '/opt/cni/bin';
    return fail(
      id,
      `${flannel.name} needs ${needed.join(', ')}; missing from ${dirList}: ${missing.join(', ')} (pods fail with "failed to find plugin")`,
      `install ${missing.join(', ')} into ${target}: e.g. cp /usr/lib/cni/{${missing.join(',')}} ${target}/ (Debian package containernetworking-plugins; upstream: github.com/containernetworking/plugins releases)`.replace(/\{([^,}]+)\}/, '$1'),
    );
  }
  return ok(id, `${needed.map((p) => `${p} (${found.get(p) ?? ''})`).join(', ')}`);
}

function bridgeAddress(f: NodeFacts): CheckResult {
  const id = 'cni.bridge-address';
  const env = subnetEnvOf(f);
  if (!env) return skip(id, 'subnet.env unreadable (see subnetenv.file)');
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  const cni0 = linkByName(kernel, 'cni0');
  if (!cni0) return skip(id, 'no cni0 yet (the bridge plugin creates it with the first pod)');
  const addrs = kernel.addrs.filter((a) => a.linkIndex === cni0.index && !a.ip.isLinkLocalUnicast());
  const subnets = [env.subnet, env.ipv6Subnet].filter((c) => c !== undefined);
  const text = (a: (typeof addrs)[number]): string => `${a.ip.toString()}/${a.prefix}`;
  const stale = addrs.filter((a) => !subnets.some((s) => s.family === a.ip.family && cidrOf(a.ip, a.prefix).equals(s)));
  const good = addrs.filter((a) => !stale.includes(a));
  const want = subnets.map((s) => `${s.firstHost.toString()}/${s.prefix}`).join(', ');
  const saw = `cni0 ${addrs.map(text).join(', ') || 'no address'}, FLANNEL_SUBNET ${want}`;
  if (stale.length === 0) return ok(id, saw);
  const fix =
    good.length > 0
      ? `${stale.map((a) => `ip addr del ${text(a)} dev cni0`).join(' && ')}   (an old subnet's address: new pods fail with "cni0 already has an IP address different from ${want}")`
      : `ip link del cni0; the bridge plugin re-creates it with ${want} at the next pod (re-create this node's pods: they sit on the old subnet)`;
  return fail(id, `${saw}: ${stale.map(text).join(', ')} is outside FLANNEL_SUBNET`, fix);
}

export const cniChecks: CheckSpec[] = [
  { id: 'cni.conflist', summary: 'a flannel conflist is in the CNI conf dir and no other config sorts before it (a leftover Calico config)', run: conflist },
  { id: 'cni.plugins', summary: 'every plugin the flannel conflist names (flannel, its delegate bridge and host-local, portmap, ...) is in a CNI bin dir', run: plugins },
  { id: 'cni.bridge-address', summary: 'cni0\'s address lies in FLANNEL_SUBNET ("cni0 already has an IP address different from ..."; skipped without cni0)', run: bridgeAddress },
];
