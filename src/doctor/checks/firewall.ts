/**
 * @module doctor/checks/firewall
 * firewall.input-port: no INPUT chain drops the backend's UDP port (seed 000 §6, 001 §2);
 * firewall.forward: FORWARD lets pod traffic through (Docker's policy DROP, seed 002);
 * firewall.iptables-variants: iptables-legacy and iptables-nft do not both hold rules (ff#1317).
 * Every base chain on the hook must let the packet through: iptables-legacy, iptables-nft and
 * native nft tables are each walked with it.
 */
import { IPAddress, type Family } from '../../ip/index.ts';
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts, Read } from '../facts.ts';
import { backendDevices, backendUdpPorts, backendView } from './backend-view.ts';
import { configOf, listSome, networkOf, ownLease, peerLeases, subnetEnvOf, valueOf } from './common.ts';
import { baseChains, countIptablesRules, evaluate, parseIptablesSave, parseNftRuleset, type Chain, type Packet, type Table } from './firewall-rules.ts';

const IPTABLES_OWNED = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

interface Rulesets {
  readonly tables: Table[];
  /** Sources that could not be read, with why. */
  readonly unreadable: string[];
  /** Sources read. */
  readonly read: string[];
}

/** Every ruleset that filters `family`: both iptables variants and the native nft tables. */
export function firewallTables(f: NodeFacts, family: Family): Rulesets {
  const fw = f.firewall.iptables;
  const out: Rulesets = { tables: [], unreadable: [], read: [] };
  const v = family === 4 ? '' : '6';
  const fam = family === 4 ? 'ip' : 'ip6';
  const add = (name: string, r: Read<string> | undefined): boolean => {
    if (!r) return false;
    if ('error' in r) {
      out.unreadable.push(`${name}: ${r.error}`);
      return false;
    }
    out.read.push(name);
    out.tables.push(...parseIptablesSave(r.value, name, fam));
    return true;
  };
  add(`ip${v}tables-legacy`, family === 4 ? fw.legacy : fw.legacy6);
  const nftVariant = add(`ip${v}tables-nft`, family === 4 ? fw.nft : fw.nft6);
  const ruleset = f.firewall.nftRuleset;
  if (ruleset && 'error' in ruleset) out.unreadable.push(`nft: ${ruleset.error}`);
  else if (ruleset) {
    out.read.push('nft');
    for (const t of parseNftRuleset(ruleset.value)) {
      if (t.family !== fam && t.family !== 'inet') continue;
      // iptables-nft's own tables, already read through iptables-save.
      if (nftVariant && t.family === fam && IPTABLES_OWNED.has(t.name)) continue;
      out.tables.push(t);
    }
  }
  return out;
}

function where(table: Table, chain: Chain | string): string {
  const name = typeof chain === 'string' ? chain : chain.name;
  return table.source === 'nft' ? `nft ${table.family} ${table.name} ${name}` : `${table.source} ${table.name} ${name}`;
}

function iptablesCommand(table: Table): string {
  const six = table.family === 'ip6' ? 'ip6tables' : 'iptables';
  return table.source.endsWith('legacy') ? `${six}-legacy` : six;
}

interface Finding {
  readonly text: string;
  readonly fix: string;
  readonly sure: boolean;
}

/** Walks every base chain on `hook` with each packet; returns what drops (sure or not) and what was walked. */
function judge(rs: Rulesets, hook: string, packets: readonly Packet[], fixFor: (table: Table, chain: Chain, by: string, byChain: string | undefined) => string): { findings: Finding[]; walked: string[] } {
  const findings = new Map<string, Finding>();
  const walked: string[] = [];
  for (const { table, chain } of baseChains(rs.tables, hook)) {
    walked.push(`${where(table, chain)} (policy ${(chain.policy ?? 'accept').toUpperCase()})`);
    for (const p of packets) {
      const o = evaluate(table, chain, p);
      if (o.verdict === 'drop') {
        const key = `${where(table, chain)} ${o.by}`;
        const text = `${where(table, o.chain ?? chain.name)}: ${o.by}${o.unsure.length > 0 ? ` (unless ${o.unsure[0] ?? ''} matches)` : ''}`;
        if (!findings.has(key)) findings.set(key, { text, fix: fixFor(table, chain, o.by, o.chain), sure: o.unsure.length === 0 });
      } else if (o.unsure.length > 0) {
        const key = `${where(table, chain)} ${o.unsure[0] ?? ''}`;
        if (!findings.has(key)) findings.set(key, { text: `${where(table, chain)}: may drop at ${o.unsure[0] ?? ''}`, fix: fixFor(table, chain, o.unsure[0] ?? '', undefined), sure: false });
      }
    }
  }
  return { findings: [...findings.values()], walked };
}

function result(id: string, findings: readonly Finding[], okText: string): CheckResult {
  const sure = findings.filter((x) => x.sure);
  const shown = sure.length > 0 ? sure : findings;
  if (shown.length === 0) return ok(id, okText);
  const fix = [...new Set(shown.map((x) => x.fix))].slice(0, 2).join('\n');
  return (sure.length > 0 ? fail : warn)(id, listSome(shown.map((x) => x.text)), fix);
}

function inputPort(f: NodeFacts): CheckResult {
  const id = 'firewall.input-port';
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const view = backendView(config);
  if ('problem' in view) return skip(id, `Backend section unusable: ${view.problem}`);
  const ports = backendUdpPorts(view, config);
  const ipip = view.type === 'ipip';
  if (ports.length === 0 && !ipip) return skip(id, `${view.type} receives no UDP from peers`);
  const peers = peerLeases(f) ?? [];
  const ifaceName = valueOf(f.iface)?.name;
  const ifaceAddr = IPAddress.tryParse(valueOf(f.iface)?.address ?? '');
  const results: Finding[] = [];
  const walkedAll: string[] = [];
  const unreadable: string[] = [];
  for (const family of [4, 6] as const) {
    const sources = peers.map((p) => (family === 4 ? p.attrs.publicIP : p.attrs.publicIPv6)).filter((x): x is IPAddress => x !== undefined);
    if (family === 6 && sources.length === 0 && !ownLease(f)?.attrs.publicIPv6) continue;
    const rs = firewallTables(f, family);
    unreadable.push(...rs.unreadable);
    const srcs: Array<IPAddress | undefined> = sources.length > 0 ? sources : [undefined];
    const dst = ifaceAddr?.family === family ? ifaceAddr : undefined;
    const wanted = ipip ? [{ proto: '4', port: undefined, what: 'ipip (IP protocol 4)' }] : ports.map((p) => ({ proto: 'udp', port: p.port, what: p.what }));
    for (const w of wanted) {
      const packets: Packet[] = srcs.map((src) => ({ proto: w.proto, ...(w.port !== undefined ? { dport: w.port } : {}), ...(src ? { src } : {}), ...(dst ? { dst } : {}), ...(ifaceName ? { iif: ifaceName } : {}) }));
      const match = w.port !== undefined ? `-p udp --dport ${w.port}` : '-p 4';
      const nftMatch = w.port !== undefined ? `udp dport ${w.port}` : 'meta l4proto ipencap';
      const { findings, walked } = judge(rs, 'input', packets, (table, chain, by) => {
        if (table.source === 'nft') return `nft insert rule ${table.family} ${table.name} ${chain.name} ${nftMatch} accept   # ${w.what} from the other nodes`;
        if (by.startsWith('-A ')) return `${iptablesCommand(table)} -D ${by.slice(3)}`;
        return `${iptablesCommand(table)} -I ${chain.name} ${match} -j ACCEPT   (ufw: ufw allow ${w.port ?? ''}${w.port !== undefined ? '/udp' : ''}; firewalld: firewall-cmd --permanent --add-port=${w.port ?? ''}/udp)`;
      });
      results.push(...findings.map((x) => ({ ...x, text: `${w.what}: ${x.text}` })));
      if (family === 4 && w === wanted[0]) walkedAll.push(...walked);
    }
  }
  if (walkedAll.length === 0 && unreadable.length > 0) return skip(id, `no firewall ruleset readable: ${unreadable.join('; ')}`);
  const what = ipip ? 'ipip (IP protocol 4)' : ports.map((p) => p.what).join(', ');
  return result(id, results, `${what} accepted by every INPUT chain: ${walkedAll.length > 0 ? walkedAll.join(', ') : 'no INPUT chain'}`);
}

function forward(f: NodeFacts): CheckResult {
  const id = 'firewall.forward';
  const config = configOf(f);
  if (!config) return skip(id, 'network config unreadable (see datastore.reachable)');
  const view = backendView(config);
  const devices = 'problem' in view ? [] : backendDevices(view, config);
  const ifaceName = valueOf(f.iface)?.name;
  const env = subnetEnvOf(f);
  const own = ownLease(f);
  const peers = peerLeases(f) ?? [];
  const results: Finding[] = [];
  const walkedAll: string[] = [];
  const unreadable: string[] = [];
  for (const family of [4, 6] as const) {
    const network = networkOf(config, family);
    const ownSubnet = family === 4 ? (env?.subnet ?? own?.subnet) : (env?.ipv6Subnet ?? own?.ipv6Subnet);
    if (!network || !ownSubnet) continue;
    const peerSubnet = peers.map((p) => (family === 4 ? p.subnet : p.ipv6Subnet)).find((s) => s !== undefined) ?? ownSubnet.next();
    const tunnel = devices.find((d) => d.carries.includes(family))?.name ?? ifaceName;
    const local = ownSubnet.ip.add(2);
    const remote = peerSubnet.ip.add(2);
    const packets: Packet[] = [
      { src: remote, dst: local, ...(tunnel ? { iif: tunnel } : {}), oif: 'cni0' },
      { src: local, dst: remote, iif: 'cni0', ...(tunnel ? { oif: tunnel } : {}) },
    ];
    const rs = firewallTables(f, family);
    unreadable.push(...rs.unreadable);
    const net = network.toString();
    const { findings, walked } = judge(rs, 'forward', packets, (table, chain, by) => {
      if (table.source === 'nft') return `nft insert rule ${table.family} ${table.name} ${chain.name} ${family === 4 ? 'ip' : 'ip6'} saddr ${net} accept && nft insert rule ${table.family} ${table.name} ${chain.name} ${family === 4 ? 'ip' : 'ip6'} daddr ${net} accept`;
      const cmd = iptablesCommand(table);
      if (by.startsWith('-A ')) return `${cmd} -D ${by.slice(3)}`;
      const own = f.options.iptablesForwardRules ? '' : 'run flanneld without --iptables-forward-rules=false (it adds FLANNEL-FWD), or: ';
      return `${own}${cmd} -I FORWARD -s ${net} -j ACCEPT && ${cmd} -I FORWARD -d ${net} -j ACCEPT   (or ${cmd} -P FORWARD ACCEPT)`;
    });
    results.push(...findings.map((x) => ({ ...x, text: `pod traffic ${remote.toString()} <-> ${local.toString()}: ${x.text}` })));
    walkedAll.push(...walked);
  }
  if (walkedAll.length === 0 && unreadable.length > 0) return skip(id, `no firewall ruleset readable: ${unreadable.join('; ')}`);
  return result(id, results, `pod traffic of ${[config.v4?.network, config.v6?.network].filter(Boolean).join(', ')} forwarded by every FORWARD chain: ${walkedAll.length > 0 ? walkedAll.join(', ') : 'no FORWARD chain'}`);
}

function variants(f: NodeFacts): CheckResult {
  const id = 'firewall.iptables-variants';
  const fw = f.firewall.iptables;
  const count = (rs: Array<Read<string> | undefined>): number | undefined => {
    const read = rs.filter((r): r is { value: string } => r !== undefined && 'value' in r);
    return read.length === 0 ? undefined : read.reduce((n, r) => n + countIptablesRules(r.value), 0);
  };
  const legacy = count([fw.legacy, fw.legacy6]);
  const nft = count([fw.nft, fw.nft6]);
  if (legacy === undefined && nft === undefined) return skip(id, 'neither iptables-legacy-save nor iptables-nft-save could be run');
  const saw = `iptables-legacy: ${legacy ?? 'not readable'} rule(s), iptables-nft: ${nft ?? 'not readable'} rule(s)`;
  if ((legacy ?? 0) > 0 && (nft ?? 0) > 0) {
    return warn(
      id,
      `${saw}: both hold rules; the kernel applies both, each tool shows only its own`,
      'use one variant on this node (the one kube-proxy and flanneld use): update-alternatives --set iptables /usr/sbin/iptables-nft, then remove the other\'s rules (iptables-legacy-save to see them) and restart flanneld and kube-proxy',
    );
  }
  return ok(id, saw);
}

export const firewallChecks: CheckSpec[] = [
  { id: 'firewall.forward', summary: 'every FORWARD chain (iptables-legacy, iptables-nft, nft) lets pod traffic of the Network through: no policy DROP without FLANNEL-FWD or another ACCEPT', run: forward },
  { id: 'firewall.input-port', summary: "no INPUT rule or policy drops the backend's traffic from the peers (vxlan UDP 8472 or Backend.Port, udp 8285, wireguard 51820/51821, ipip protocol 4)", run: inputPort },
  { id: 'firewall.iptables-variants', summary: 'iptables-legacy and iptables-nft do not both hold rules', run: variants },
];
