/**
 * @module backend/vxlan/device
 * The VTEP device flannel.<VNI> (flannel-v6.<VNI>): created, adopted or re-created, always with
 * the MAC peers know, because that MAC is in our lease and in every peer's neighbour and FDB
 * tables (a changed MAC silently black-holes traffic to this node, ff#1330).
 */
import type { Family, IPAddress } from '../../ip/index.ts';
import { randomMac, type Link, type Links, type Mac, type VxlanInfo } from '../../kernel/index.ts';
import type { Logger } from '../../log/index.ts';

const KERNEL_DEFAULT_PORT = 8472;

export interface VxlanDeviceSpec {
  readonly name: string;
  readonly family: Family;
  readonly vni: number;
  /** 0: the kernel default (8472). */
  readonly port: number;
  readonly local?: IPAddress;
  readonly linkIndex: number;
  readonly learning: boolean;
  readonly gbp: boolean;
  readonly mtu: number;
}

export interface EnsureResult {
  readonly link: Link;
  /** The device was created (or re-created): per-device settings such as offloads must be applied again. */
  readonly created: boolean;
}

/** What differs between an existing device and the spec, in `ip -d link` words; empty when it can be kept. */
export function incompatibilities(link: Link, spec: VxlanDeviceSpec): string[] {
  if (link.kind !== 'vxlan' || !link.vxlan) return [`it is a ${link.kind ?? 'plain'} device, not vxlan`];
  const have: VxlanInfo = link.vxlan;
  const out: string[] = [];
  const diff = (what: string, a: unknown, b: unknown): void => {
    if (a !== b) out.push(`${what} ${String(a)} (want ${String(b)})`);
  };
  diff('id', have.vni, spec.vni);
  diff('dstport', have.port || KERNEL_DEFAULT_PORT, spec.port || KERNEL_DEFAULT_PORT);
  diff('local', have.local?.toString() ?? 'any', spec.local?.toString() ?? 'any');
  diff('dev', have.link ?? 'none', spec.linkIndex);
  diff('learning', have.learning, spec.learning);
  diff('gbp', have.gbp, spec.gbp);
  return out;
}

/**
 * Makes the device match `spec`. A compatible device is kept (no traffic blip) with its MAC,
 * unless `mac` asks for another; an incompatible one is deleted and re-created with the MAC it
 * had; a new one gets `mac`, else `preferredMac` (the VtepMAC this node published before, e.g. in
 * its Kubernetes node annotation, so peers keep working after a reboot), else a random locally
 * administered one.
 */
export async function ensureVxlanDevice(kernel: Links, spec: VxlanDeviceSpec, log: Logger, mac?: Mac, preferredMac?: Mac): Promise<EnsureResult> {
  const existing = await kernel.getLink(spec.name);
  let keepMac = mac;
  if (existing) {
    const diffs = incompatibilities(existing, spec);
    if (diffs.length === 0) {
      if (existing.mtu !== spec.mtu) {
        await kernel.setLinkMtu(existing.index, spec.mtu);
        log.info(`set MTU of ${spec.name} to ${spec.mtu} (was ${existing.mtu})`);
      }
      if (mac && existing.mac !== mac) {
        await kernel.setLinkMac(existing.index, mac);
        log.info(`restored MAC ${mac} on ${spec.name} (someone changed it to ${existing.mac}); peers address this node by that MAC`);
      }
      const link = (await kernel.getLinkByIndex(existing.index)) ?? existing;
      return { link, created: false };
    }
    keepMac ??= existing.kind === 'vxlan' && existing.mac ? existing.mac : undefined;
    log.warn(`${spec.name} exists with other settings (${diffs.join(', ')}): re-creating it${keepMac ? ` with the same MAC ${keepMac}` : ''}`);
    await kernel.deleteLink(existing.index);
  } else if (mac) {
    log.warn(`${spec.name} is gone (deleted by hand?): re-creating it with MAC ${mac}`);
  } else if (preferredMac) {
    keepMac = preferredMac;
    log.info(`creating ${spec.name} with the VtepMAC ${preferredMac} this node published before`);
  }
  const link = await kernel.createLink({
    kind: 'vxlan',
    name: spec.name,
    vni: spec.vni,
    port: spec.port,
    ...(spec.local ? { local: spec.local } : {}),
    linkIndex: spec.linkIndex,
    learning: spec.learning,
    gbp: spec.gbp,
    mtu: spec.mtu,
    mac: keepMac ?? randomMac(),
  });
  log.info(`created VXLAN device ${spec.name}`, {
    vni: spec.vni,
    local: spec.local?.toString(),
    port: spec.port || KERNEL_DEFAULT_PORT,
    dev: spec.linkIndex,
    mtu: link.mtu,
    mac: link.mac,
  });
  return { link, created: true };
}
