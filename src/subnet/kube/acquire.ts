/**
 * @module subnet/kube/acquire
 * The node's lease is its podCIDR(s), assigned by kube-controller-manager: wait until it has
 * one (ff#2: say loudly how to fix a cluster created without --pod-network-cidr), check it lies
 * inside the configured Network, then publish upstream's annotations with one patch (none when
 * they are already right). A user-set public-ip(-v6)-overwrite annotation wins over the detected
 * address, for the published annotation and for the lease.
 */
import type { NetworkConfig } from '../../config/index.ts';
import { ConfigError, LeaseError } from '../../errors/index.ts';
import { IPAddress, type Cidr, type Family } from '../../ip/index.ts';
import type { Lease, LeaseAttrs } from '../../lease/index.ts';
import { E_LEASE_LOST, hostNetworkClash, type AcquireOptions } from '../manager.ts';
import type { NodeView } from './api.ts';
import { annotationChanges, desiredAnnotations } from './annotations.ts';
import { sleep } from '../../async/index.ts';
import type { KubeContext } from './context.ts';
import { E_KUBE_NOT_FOUND, isKubeError } from './errors.ts';
import { NEVER, podCidrsOf, type Families, type PodCidrs } from './node-lease.ts';

export function familiesOf(config: NetworkConfig): Families {
  return { v4: config.enableIPv4 && config.v4 !== undefined, v6: config.enableIPv6 && config.v6 !== undefined };
}

function networksOf(config: NetworkConfig): string {
  return [config.v4?.network, config.v6?.network].filter(Boolean).map(String).join(',') || '<Network>';
}

/** Polls our node until it has a podCIDR, warning every `podCidrWarnMs`. */
async function waitForPodCidr(ctx: KubeContext, name: string, config: NetworkConfig, signal: AbortSignal): Promise<NodeView> {
  const { api, log, timings, now } = ctx;
  let lastWarn = Number.NEGATIVE_INFINITY;
  const warn = (msg: string): void => {
    if (now() - lastWarn < timings.podCidrWarnMs) return;
    lastWarn = now();
    log.warn(msg, { node: name });
  };
  for (;;) {
    let node: NodeView | undefined;
    try {
      node = await api.getNode(name, signal);
    } catch (err) {
      if (!isKubeError(err, E_KUBE_NOT_FOUND)) throw err;
      warn(`node ${name} does not exist (yet): waiting for it; NODE_NAME must be the name of this node's Node object (kubectl get nodes)`);
    }
    if (node && node.podCIDRs.length > 0) return node;
    if (node) {
      warn(`node ${name} has no podCIDR yet: was the cluster created with kubeadm init --pod-network-cidr=${networksOf(config)}? (or kube-controller-manager --allocate-node-cidrs)`);
    }
    await sleep(timings.podCidrPollMs, signal);
  }
}

/** The node's subnets for the enabled families, each inside its Network, or a ConfigError. */
function checkPodCidrs(node: NodeView, config: NetworkConfig, families: Families): PodCidrs {
  const split = podCidrsOf(node);
  if ('problem' in split) {
    throw new ConfigError('E_KUBE_PODCIDR', `node ${node.name} ${split.problem}`, { hint: 'fix the node\'s spec.podCIDRs (they are set by kube-controller-manager --allocate-node-cidrs)' });
  }
  const out: PodCidrs = {};
  const check = (family: Family, cidr: Cidr | undefined, network: Cidr | undefined): Cidr => {
    const key = family === 4 ? 'Network' : 'IPv6Network';
    if (!cidr) {
      throw new ConfigError('E_KUBE_PODCIDR', `node ${node.name} has no IPv${family} podCIDR (podCIDRs: ${node.podCIDRs.join(', ')}) but the flannel network config enables IPv${family} (${key} ${String(network)})`, {
        hint: family === 4 ? 'give the cluster an IPv4 pod CIDR, or set "EnableIPv4": false in net-conf.json' : 'make the cluster dual-stack (an IPv6 --cluster-cidr), or set "EnableIPv6": false in net-conf.json',
      });
    }
    if (!network || !network.containsCidr(cidr)) {
      throw new ConfigError('E_KUBE_PODCIDR_OUTSIDE', `node ${node.name}'s podCIDR ${cidr.toString()} is outside the flannel ${key} ${String(network)}`, {
        hint: `make kube-controller-manager's --cluster-cidr (kubeadm init --pod-network-cidr) and the ${key} of net-conf.json (the kube-flannel-cfg ConfigMap) the same network, then restart flanneld`,
      });
    }
    return cidr;
  };
  if (families.v4) out.v4 = check(4, split.cidrs.v4, config.v4?.network);
  if (families.v6) out.v6 = check(6, split.cidrs.v6, config.v6?.network);
  return out;
}

/** Applies `<p>/public-ip-overwrite` / `<p>/public-ipv6-overwrite` from the node. */
function withOverwrites(ctx: KubeContext, node: NodeView, attrs: LeaseAttrs): LeaseAttrs {
  const { names, log } = ctx;
  const read = (annotation: string, family: Family): IPAddress | undefined => {
    const text = node.annotations[annotation]?.trim();
    if (!text) return undefined;
    const ip = IPAddress.tryParse(text);
    if (!ip || ip.family !== family) {
      throw new ConfigError('E_KUBE_PUBLIC_IP_OVERWRITE', `annotation ${annotation} on node ${node.name} is "${text}", not an IPv${family} address`, {
        hint: `fix or remove it: kubectl annotate node ${node.name} ${annotation}-`,
      });
    }
    return ip;
  };
  const v4 = read(names.publicIPOverwrite, 4);
  const v6 = read(names.publicIPv6Overwrite, 6);
  const differs = (a: IPAddress, b: IPAddress | undefined): boolean => b === undefined || !a.equals(b);
  if (v4 && differs(v4, attrs.publicIP)) log.info(`Overriding public ip with '${v4.toString()}' from node annotation '${names.publicIPOverwrite}'`);
  if (v6 && differs(v6, attrs.publicIPv6)) log.info(`Overriding public ipv6 with '${v6.toString()}' from node annotation '${names.publicIPv6Overwrite}'`);
  return { ...attrs, ...(v4 ? { publicIP: v4 } : {}), ...(v6 ? { publicIPv6: v6 } : {}) };
}

function checkAttrs(families: Families, attrs: LeaseAttrs): void {
  if (families.v4 && !attrs.publicIP) {
    throw new LeaseError('E_LEASE_ATTRS', 'IPv4 is enabled in the network config but this node has no public IPv4 address', {
      hint: 'pick the interface with --iface / --public-ip, or set "EnableIPv4": false',
    });
  }
  if (families.v6 && !attrs.publicIPv6) {
    throw new LeaseError('E_LEASE_ATTRS', 'IPv6 is enabled in the network config but this node has no public IPv6 address', {
      hint: 'pick the interface with --iface / --public-ipv6, or set "EnableIPv6": false',
    });
  }
}

export async function acquireLease(ctx: KubeContext, { config, attrs: detected, hostNetworks, undo, signal }: AcquireOptions): Promise<Lease> {
  const { api, names, log } = ctx;
  const name = await ctx.nodeName(signal);
  const families = familiesOf(config);
  const node = await waitForPodCidr(ctx, name, config, signal);
  const cidrs = checkPodCidrs(node, config, families);
  for (const cidr of [cidrs.v4, cidrs.v6]) {
    const clash = cidr && hostNetworkClash(cidr, hostNetworks, true);
    if (cidr && clash) {
      throw new ConfigError('E_KUBE_PODCIDR_HOST', `node ${name}'s podCIDR ${cidr.toString()} overlaps this node's own network ${clash.cidr.toString()} on ${clash.device}: pods would shadow that network`, {
        hint: "give the cluster a pod network that no node's LAN uses (kubeadm init --pod-network-cidr and the Network of net-conf.json, e.g. 10.244.0.0/16), or move the node off that network",
      });
    }
  }
  const attrs = withOverwrites(ctx, node, detected);
  checkAttrs(families, attrs);

  const want = desiredAnnotations(names, attrs, families);
  const changes = annotationChanges(node.annotations, want);
  let revision = node.resourceVersion;
  if (Object.keys(changes).length > 0) {
    const patched = await api.patchNodeAnnotations(name, want, signal);
    revision = patched.resourceVersion;
    log.info(`published this node's lease on node ${name}: ${Object.keys(changes).join(', ')}`, { node: name });
    // A start-up that fails later puts back what the node carried (a first start: no annotations).
    const previous = Object.fromEntries(Object.keys(changes).map((k) => [k, node.annotations[k] ?? null]));
    undo?.add(`restore the annotations of node ${name}`, async (undoSignal) => void (await api.patchNodeAnnotations(name, previous, undoSignal)));
  } else {
    log.info(`node ${name} already carries this node's lease annotations; nothing to patch`, { node: name });
  }
  const subnets = [cidrs.v4, cidrs.v6].filter(Boolean).map(String).join(' + ');
  log.info(`using the podCIDR of node ${name}: ${subnets}`, { node: name });
  return {
    ...(cidrs.v4 ? { subnet: cidrs.v4 } : {}),
    ...(cidrs.v6 ? { ipv6Subnet: cidrs.v6 } : {}),
    attrs,
    expiration: NEVER,
    revision,
  };
}

/**
 * Checks that the node still is what this node's lease says, after someone changed it: the same
 * podCIDR(s) (else the lease is lost: E_LEASE_LOST), and our annotations (re-published when
 * removed or edited, so peers route to this node again).
 */
export async function verifyLease(ctx: KubeContext, lease: Lease, families: Families, signal: AbortSignal): Promise<Lease> {
  const { api, names, log } = ctx;
  const name = await ctx.nodeName(signal);
  const node = await api.getNode(name, signal);
  const split = podCidrsOf(node);
  const cidrs: PodCidrs = 'cidrs' in split ? split.cidrs : {};
  for (const [family, have, want] of [
    [4, cidrs.v4, families.v4 ? lease.subnet : undefined],
    [6, cidrs.v6, families.v6 ? lease.ipv6Subnet : undefined],
  ] as const) {
    if (!want || (have && have.equals(want))) continue;
    const now = have ? `is now ${have.toString()}` : 'is gone';
    throw new LeaseError(E_LEASE_LOST, `node ${name}'s IPv${family} podCIDR ${now}, but this node's pods use ${want.toString()}`, {
      hint: 'someone changed spec.podCIDR(s) of the node; flanneld stops rather than route a subnet it no longer owns. Start flanneld again to use the new podCIDR, then re-create the pods on this node',
    });
  }
  const want = desiredAnnotations(names, lease.attrs, families);
  const changes = annotationChanges(node.annotations, want);
  if (Object.keys(changes).length === 0) return { ...lease, revision: node.resourceVersion };
  const patched = await api.patchNodeAnnotations(name, want, signal);
  log.warn(`annotations of node ${name} were removed or changed by someone (${Object.keys(changes).join(', ')}); published them again`, { node: name });
  return { ...lease, revision: patched.resourceVersion };
}
