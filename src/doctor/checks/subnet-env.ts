/**
 * @module doctor/checks/subnet-env
 * subnetenv.file: subnet.env is there, well-formed, and matches the network config, because the
 * CNI plugin builds every pod's address and MTU from it.
 */
import { fail, ok, type CheckResult, type CheckSpec } from '../check.ts';
import type { NodeFacts } from '../facts.ts';
import { configOf, errorOf, restartFlanneld, subnetEnvOf } from './common.ts';

function run(f: NodeFacts): CheckResult {
  const id = 'subnetenv.file';
  const path = f.subnetEnv.path;
  const env = subnetEnvOf(f);
  if (!env) {
    return fail(id, `cannot read ${path}: ${errorOf(f.subnetEnv) ?? 'unknown error'}`, `flanneld writes it once it holds a lease (pods stay ContainerCreating until then): check flanneld.process and its log; ${restartFlanneld(f)}`);
  }
  const parts = [
    env.network ? `FLANNEL_NETWORK=${env.network.toString()}` : undefined,
    env.subnet ? `FLANNEL_SUBNET=${env.subnet.firstHost.toString()}/${env.subnet.prefix}` : undefined,
    env.ipv6Network ? `FLANNEL_IPV6_NETWORK=${env.ipv6Network.toString()}` : undefined,
    env.ipv6Subnet ? `FLANNEL_IPV6_SUBNET=${env.ipv6Subnet.firstHost.toString()}/${env.ipv6Subnet.prefix}` : undefined,
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq}`,
  ].filter((p): p is string => p !== undefined);
  const saw = `${path}: ${parts.join(' ')}`;
  const rewrite = `${restartFlanneld(f)}: it rewrites ${path} from its lease and the config`;
  const problems: string[] = [];
  if (!env.subnet && !env.ipv6Subnet) problems.push('neither FLANNEL_SUBNET nor FLANNEL_IPV6_SUBNET is set');
  if (env.subnet && env.network && !env.network.containsCidr(env.subnet)) problems.push(`FLANNEL_SUBNET ${env.subnet.toString()} is outside FLANNEL_NETWORK ${env.network.toString()}`);
  if (env.ipv6Subnet && env.ipv6Network && !env.ipv6Network.containsCidr(env.ipv6Subnet)) problems.push(`FLANNEL_IPV6_SUBNET is outside FLANNEL_IPV6_NETWORK`);
  if (env.mtu < 68) problems.push(`FLANNEL_MTU ${env.mtu} is below 68`);
  const config = configOf(f);
  if (config) {
    if (config.enableIPv4 && config.v4 && !env.network?.equals(config.v4.network)) {
      problems.push(`FLANNEL_NETWORK is ${env.network?.toString() ?? 'missing'} but the config's Network is ${config.v4.network.toString()}`);
    }
    if (config.enableIPv6 && config.v6 && !env.ipv6Network?.equals(config.v6.network)) {
      problems.push(`FLANNEL_IPV6_NETWORK is ${env.ipv6Network?.toString() ?? 'missing'} but the config's IPv6Network is ${config.v6.network.toString()}`);
    }
  }
  if (problems.length > 0) return fail(id, `${saw}: ${problems.join('; ')}`, rewrite);
  return ok(id, saw);
}

export const subnetEnvChecks: CheckSpec[] = [
  { id: 'subnetenv.file', summary: "subnet.env is present, well-formed, and its FLANNEL_NETWORK is the config's Network", run },
];
