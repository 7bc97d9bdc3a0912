/**
 * @module doctor/checks/mtu
 * mtu.device: flannel's device MTU = underlay MTU − the encapsulation overhead (vxlan 50, 70 over
 * IPv6; wireguard 80; ipip 20; udp 28) and FLANNEL_MTU agrees; mtu.pods: cni0 and the pods'
 * veths are not larger than FLANNEL_MTU (larger packets are dropped inside the tunnel).
 */
import { fail, ok, skip, warn, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { backendAndKernel, backendDevices, underlayMtu } from './backend-view.ts';
import { errorOf, linkByName, listSome, restartFlanneld, subnetEnvOf, valueOf } from './common.ts';

function device(f: NodeFacts): CheckResult {
  const id = 'mtu.device';
  const basics = backendAndKernel(id, f);
  if ('status' in basics) return basics;
  const { config, view, kernel } = basics;
  const iface = valueOf(f.iface);
  const ifaceLink = iface ? kernel.links.find((l) => l.index === iface.index) : undefined;
  if (!iface || !ifaceLink) return skip(id, 'the interface flanneld uses is unknown (see iface.chosen)');
  const under = underlayMtu(view, ifaceLink.mtu);
  const env = subnetEnvOf(f);
  const envMtu = env?.mtu;
  const devices = backendDevices(view, config);
  const problems: string[] = [];
  const fixes: string[] = [];
  const seen: string[] = [`${iface.name} ${ifaceLink.mtu}${under.from === 'Backend.MTU' ? `, Backend.MTU ${under.mtu}` : ''}`];
  let expectedEnv = under.mtu;
  if (devices.length > 0) {
    const wants = devices.map((d) => ({ d, want: under.mtu - d.overhead, link: linkByName(kernel, d.name) }));
    expectedEnv = Math.min(...wants.map((w) => w.want));
    for (const { d, want, link } of wants) {
      if (!link) {
        seen.push(`${d.name} missing`);
        continue;
      }
      seen.push(`${d.name} ${link.mtu} (want ${under.mtu} − ${d.overhead} = ${want})`);
      if (link.mtu !== want) {
        problems.push(`${d.name} MTU ${link.mtu} ≠ ${want}`);
        fixes.push(`ip link set dev ${d.name} mtu ${want}`);
      }
    }
  }
  if (envMtu !== undefined) {
    seen.push(`FLANNEL_MTU ${envMtu}`);
    if (envMtu !== expectedEnv) {
      problems.push(`FLANNEL_MTU ${envMtu} ≠ ${expectedEnv}${envMtu > expectedEnv ? ': pods send packets the tunnel cannot carry' : ''}`);
      fixes.push(`${restartFlanneld(f)} so it rewrites subnet.env, then re-create this node's pods (they took the old MTU)`);
    }
  }
  const saw = seen.join(', ');
  if (problems.length === 0) return ok(id, saw);
  const onlySmaller = devices.length === 0 && envMtu !== undefined && envMtu < expectedEnv;
  return (onlySmaller ? warn : fail)(id, `${saw}: ${problems.join('; ')}`, [...new Set(fixes)].slice(0, 2).join('\n'));
}

function pods(f: NodeFacts): CheckResult {
  const id = 'mtu.pods';
  const env = subnetEnvOf(f);
  if (!env) return skip(id, 'subnet.env unreadable, FLANNEL_MTU unknown (see subnetenv.file)');
  const kernel = valueOf(f.kernel);
  if (!kernel) return skip(id, `kernel state unreadable: ${errorOf(f.kernel) ?? ''}`);
  const cni0 = linkByName(kernel, 'cni0');
  if (!cni0) return skip(id, 'no cni0 yet (the bridge plugin creates it with the first pod)');
  const veths = kernel.links.filter((l) => l.masterIndex === cni0.index);
  const big = veths.filter((l) => l.mtu > env.mtu);
  const saw = `FLANNEL_MTU ${env.mtu}, cni0 ${cni0.mtu}, ${veths.length} pod veth(s)${veths.length > 0 ? ` (MTU ${[...new Set(veths.map((v) => v.mtu))].join('/')})` : ''}`;
  const problems: string[] = [];
  const fixes: string[] = [];
  if (cni0.mtu > env.mtu) {
    problems.push(`cni0 MTU ${cni0.mtu} > FLANNEL_MTU ${env.mtu}`);
    fixes.push(`ip link set dev cni0 mtu ${env.mtu}`);
  }
  if (big.length > 0) {
    problems.push(`veths above FLANNEL_MTU: ${listSome(big.map((v) => `${v.name} ${v.mtu}`), 4, ', ')}`);
    fixes.push(`re-create those pods (the CNI gives new pods MTU ${env.mtu}); meanwhile: ${big.slice(0, 2).map((v) => `ip link set dev ${v.name} mtu ${env.mtu}`).join(' && ')}`);
  }
  if (problems.length > 0) return fail(id, `${saw}: ${problems.join('; ')}: large packets are dropped in the tunnel`, fixes.join('\n'));
  return ok(id, saw);
}

export const mtuChecks: CheckSpec[] = [
  { id: 'mtu.device', summary: "flannel's device MTU = underlay MTU − overhead (vxlan 50/70, wireguard 80, ipip 20, udp 28) = FLANNEL_MTU", run: device },
  { id: 'mtu.pods', summary: 'cni0 and the pod veths (links whose master is cni0) are not above FLANNEL_MTU', run: pods },
];
