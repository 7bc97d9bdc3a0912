/**
 * @module doctor/checks/sysctl
 * sysctl.ip-forward: the node forwards packets (pod traffic crosses it); sysctl.br-netfilter:
 * bridged pod traffic passes iptables (kubeadm requires it; flannel itself works without).
 */
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { configOf, subnetEnvOf } from './common.ts';

function ipForward(f: NodeFacts): CheckResult {
  const id = 'sysctl.ip-forward';
  const config = configOf(f);
  const env = subnetEnvOf(f);
  const v6 = config ? config.enableIPv6 : env?.ipv6Subnet !== undefined;
  const v4 = config ? config.enableIPv4 : true;
  const names = [...(v4 ? ['net.ipv4.ip_forward'] : []), ...(v6 ? ['net.ipv6.conf.all.forwarding'] : [])];
  const seen = names.map((n) => ({ n, v: f.sysctls[n] }));
  const saw = seen.map(({ n, v }) => `${n} = ${v ?? '(unreadable)'}`).join(', ');
  const off = seen.filter(({ v }) => v !== undefined && v.trim() !== '1');
  if (off.length > 0) {
    return fail(id, `${saw}: this node does not forward pod traffic`, `${off.map(({ n }) => `sysctl -w ${n}=1`).join(' && ')}; keep it across reboots: echo '${off.map(({ n }) => `${n}=1`).join('\\n')}' > /etc/sysctl.d/99-flannel.conf`);
  }
  if (seen.every(({ v }) => v === undefined)) return skip(id, `${saw}: could not read`);
  return ok(id, saw);
}

function brNetfilter(f: NodeFacts): CheckResult {
  const id = 'sysctl.br-netfilter';
  const v = f.sysctls['net.bridge.bridge-nf-call-iptables'];
  const loaded = v !== undefined || f.modules.includes('br_netfilter');
  const fix = "modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1; at boot: echo br_netfilter > /etc/modules-load.d/k8s.conf";
  if (!loaded) return warn(id, 'br_netfilter not loaded (no net.bridge.bridge-nf-call-iptables): kube-proxy rules miss pod-to-service traffic on the same node', fix);
  if (v === undefined) return warn(id, 'br_netfilter loaded but net.bridge.bridge-nf-call-iptables unreadable', fix);
  if (v.trim() !== '1') return warn(id, `net.bridge.bridge-nf-call-iptables = ${v}: bridged pod traffic bypasses iptables (kubeadm requires 1)`, 'sysctl -w net.bridge.bridge-nf-call-iptables=1 (persist in /etc/sysctl.d/k8s.conf)');
  return ok(id, `br_netfilter loaded, net.bridge.bridge-nf-call-iptables = ${v}`);
}

export const sysctlChecks: CheckSpec[] = [
  { id: 'sysctl.ip-forward', summary: 'net.ipv4.ip_forward = 1 (and net.ipv6.conf.all.forwarding = 1 with IPv6)', run: ipForward },
  { id: 'sysctl.br-netfilter', summary: 'br_netfilter loaded and net.bridge.bridge-nf-call-iptables = 1 (warn only: kubeadm needs it, flannel does not)', run: brNetfilter },
];
