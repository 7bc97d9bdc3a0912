/**
 * @module doctor/checks/kube-proxy
 * firewall.kube-proxy-order: flanneld's chains hooked where they belong (FLANNEL-POSTRTG from
 * POSTROUTING with --ip-masq, FLANNEL-FWD from FORWARD with --iptables-forward-rules; the
 * flannel-ipv4 table in nftables mode), next to kube-proxy's chains, in the same iptables variant.
 */
import { ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts, Read } from '../facts.ts';
import { configOf, restartFlanneld } from './common.ts';
import { parseIptablesSave, parseNftRuleset, type Table } from './firewall-rules.ts';

const KUBE_CHAINS = ['KUBE-SERVICES', 'KUBE-FORWARD', 'KUBE-POSTROUTING'];

function jumps(tables: readonly Table[], table: string, chain: string): string[] {
  const c = tables.find((t) => t.name === table)?.chains.get(chain);
  return (c?.rules ?? []).map((r) => r.verdict).flatMap((v) => ('chain' in v ? [v.chain] : []));
}

function kubeChainsIn(tables: readonly Table[]): string[] {
  return KUBE_CHAINS.filter((k) => tables.some((t) => t.chains.has(k)));
}

function nftMode(f: NodeFacts, v6: boolean): CheckResult {
  const id = 'firewall.kube-proxy-order';
  const r = f.firewall.nftRuleset;
  if (!r || 'error' in r) return skip(id, `nftables mode, but nft list ruleset could not be read${r && 'error' in r ? `: ${r.error}` : ''}`);
  const tables = parseNftRuleset(r.value);
  const missing: string[] = [];
  const seen: string[] = [];
  for (const [family, name] of [['ip', 'flannel-ipv4'], ...(v6 ? [['ip6', 'flannel-ipv6']] : [])] as const) {
    const t = tables.find((x) => x.family === family && x.name === name);
    const hooks = [...(t?.chains.values() ?? [])].map((c) => c.hook).filter(Boolean);
    if (f.options.ipMasq && !hooks.includes('postrouting')) missing.push(`${family} ${name}: no postrouting chain (masquerade)`);
    if (f.options.iptablesForwardRules && !hooks.includes('forward')) missing.push(`${family} ${name}: no forward chain`);
    if (t) seen.push(`${family} ${name} hooks ${hooks.join(', ') || 'nothing'}`);
  }
  const saw = `nftables mode: ${seen.join('; ') || 'no flannel table'}`;
  if (missing.length > 0) return warn(id, `${saw}; ${missing.join('; ')}`, `${restartFlanneld(f)}: it re-creates its tables within --iptables-resync seconds`);
  return ok(id, saw);
}

function run(f: NodeFacts): CheckResult {
  const id = 'firewall.kube-proxy-order';
  const config = configOf(f);
  if (config?.enableNFTables) return nftMode(f, config.enableIPv6);
  const fw = f.firewall.iptables;
  const parse = (name: string, r: Read<string> | undefined): Table[] => (r && 'value' in r ? parseIptablesSave(r.value, name, 'ip') : []);
  const variants = [
    { name: 'iptables-nft', tables: parse('iptables-nft', fw.nft) },
    { name: 'iptables-legacy', tables: parse('iptables-legacy', fw.legacy) },
  ];
  if (variants.every((v) => v.tables.length === 0) && ![fw.nft, fw.legacy].some((r) => r && 'value' in r)) return skip(id, 'no iptables-save output could be read');
  const hasFlannel = (ts: Table[]): boolean => ts.some((t) => t.chains.has('FLANNEL-FWD') || t.chains.has('FLANNEL-POSTRTG'));
  const flannel = variants.find((v) => hasFlannel(v.tables)) ?? variants[0];
  const kube = variants.find((v) => kubeChainsIn(v.tables).length > 0);
  if (!flannel) return skip(id, 'no iptables-save output could be read');
  const forward = jumps(flannel.tables, 'filter', 'FORWARD');
  const post = jumps(flannel.tables, 'nat', 'POSTROUTING');
  const kubeText = kube ? `kube-proxy chains ${kubeChainsIn(kube.tables).join(', ')} (${kube.name})` : 'no kube-proxy chains';
  const saw = `${kubeText}; ${flannel.name} FORWARD jumps: ${forward.join(' → ') || 'none'}; POSTROUTING jumps: ${post.join(' → ') || 'none'}`;
  const problems: string[] = [];
  if (f.options.iptablesForwardRules && !forward.includes('FLANNEL-FWD')) problems.push('FLANNEL-FWD is not hooked in FORWARD');
  if (f.options.ipMasq && !post.includes('FLANNEL-POSTRTG')) problems.push('FLANNEL-POSTRTG is not hooked in POSTROUTING (pods cannot reach outside the cluster)');
  if (problems.length > 0) return warn(id, `${saw}: ${problems.join('; ')}`, `${restartFlanneld(f)}: it re-adds its jumps within --iptables-resync seconds`);
  if (kube && kube.name !== flannel.name && hasFlannel(flannel.tables)) {
    return warn(id, `${saw}: kube-proxy writes ${kube.name}, flanneld ${flannel.name}`, 'run both with one iptables variant (update-alternatives --set iptables /usr/sbin/iptables-nft or -legacy on the host and in their images)');
  }
  return ok(id, saw);
}

export const kubeProxyChecks: CheckSpec[] = [
  { id: 'firewall.kube-proxy-order', summary: "kube-proxy's chains reported; FLANNEL-POSTRTG hooked in POSTROUTING (--ip-masq) and FLANNEL-FWD in FORWARD, in kube-proxy's iptables variant", run },
];
