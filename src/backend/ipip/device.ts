/**
 * @module backend/ipip/device
 * The tunnel device flannel.ipip: an ipip device with `local` = the external interface's address
 * and no remote, so it is not the any/any catch-all the ipip module creates as tunl0 in every
 * namespace (tunl0 stays the kernel's). Created, adopted or re-created as upstream does: a device
 * with another local address or a fixed remote is re-created; a device of another kind under the
 * name is someone else's and is never deleted.
 */
import { BackendError } from '../../errors/index.ts';
import type { IPAddress } from '../../ip/index.ts';
import { isKernelErrno, type Link, type Links } from '../../kernel/index.ts';
import type { Logger } from '../../log/index.ts';

export const TUNNEL_NAME = 'flannel.ipip';
/** The outer IPv4 header. */
export const IPIP_OVERHEAD = 20;
/** The IPv4 minimum MTU (RFC 791). */
export const MIN_MTU = 68;

/** flanneld stops at start on these (the daemon's fatal code): retrying cannot help. */
export const E_UNAVAILABLE = 'E_BACKEND_UNAVAILABLE';

export interface IpipDeviceSpec {
  readonly name: string;
  readonly local: IPAddress;
  readonly mtu: number;
}

export interface EnsuredDevice {
  readonly link: Link;
  readonly created: boolean;
}

/** Why an existing ipip device cannot be kept, in `ip -d link` words; empty when it can. */
export function incompatibilities(link: Link, spec: IpipDeviceSpec): string[] {
  const have = link.ipip;
  const out: string[] = [];
  if (!have?.local || !have.local.equals(spec.local)) out.push(`local ${have?.local?.toString() ?? 'any'} (want ${spec.local.toString()})`);
  if (have?.remote) out.push(`remote ${have.remote.toString()} (want any)`);
  return out;
}

/** The device as `spec` says, its MTU aside (see ipip/index.ts): created, kept, or re-created. */
export async function ensureIpipDevice(kernel: Links, spec: IpipDeviceSpec, log: Logger): Promise<EnsuredDevice> {
  const existing = await kernel.getLink(spec.name);
  if (existing) {
    if (existing.kind !== 'ipip') throw foreignDevice(existing);
    const diffs = incompatibilities(existing, spec);
    if (diffs.length === 0) return { link: existing, created: false };
    log.warn(`${spec.name} exists with other settings (${diffs.join(', ')}): re-creating it`);
    await kernel.deleteLink(existing.index);
  }
  const link = await createTunnel(kernel, spec);
  log.info(`created ipip device ${spec.name}`, { local: spec.local.toString(), mtu: link.mtu });
  return { link, created: true };
}

async function createTunnel(kernel: Links, spec: IpipDeviceSpec): Promise<Link> {
  try {
    return await kernel.createLink({ kind: 'ipip', name: spec.name, local: spec.local, mtu: spec.mtu });
  } catch (err) {
    // rtnetlink answers "Unknown device type" (EOPNOTSUPP) for a kind no module provides.
    if (isKernelErrno(err, 'EOPNOTSUPP')) throw missingModule(spec.name, err);
    throw err;
  }
}

export function missingModule(name: string, cause: unknown): BackendError {
  return new BackendError(E_UNAVAILABLE, `the ipip backend needs the "ipip" kernel module, and this kernel has none loaded: creating the tunnel device ${name} failed with EOPNOTSUPP (Unknown device type)`, {
    cause,
    explainsCause: true,
    hint: 'load the module on the node (the host, not a container): modprobe ipip; to load it at every boot: echo ipip > /etc/modules-load.d/ipip.conf. A kernel built without CONFIG_NET_IPIP cannot run ipip: use Backend.Type "vxlan" there',
  });
}

function foreignDevice(link: Link): BackendError {
  return new BackendError('E_BACKEND_DEVICE', `${link.name} exists but is a ${link.kind ?? 'plain'} device, not an ipip tunnel; flanneld does not delete a device it did not create`, {
    permanent: true,
    hint: `remove it (ip link del ${link.name}) and restart flanneld`,
  });
}
