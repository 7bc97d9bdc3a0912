/**
 * @module cni/subnet-file
 * Loads flanneld's subnet.env for the plugin, turning every failure into a CNI error that says
 * what to do about it (field problem: pods stuck in ContainerCreating while flanneld is down).
 * The read is bounded (SUBNET_FILE_LIMIT): a `subnetFile` naming /dev/zero or a log file is refused
 * after 64 KiB, not read until the plugin is killed.
 */
import { FlannelError } from '../errors/index.ts';
import { parseSubnetEnv, type SubnetEnv } from '../subnetenv/index.ts';
import { CniCode, CniError } from './cni-error.ts';
import { clip, SUBNET_FILE_LIMIT, sizeText } from './limits.ts';
import { DEFAULT_SUBNET_FILE } from './net-conf.ts';
import { errnoCode, NOT_REGULAR, sys, TOO_LARGE } from './sys/sys.ts';

const FLANNELD_HINT = 'Check that flanneld is running on this node (see the flannel pod log for this node)';
const SUBNET_FILE_KEY_HINT = `Check "subnetFile" in the network configuration (default ${DEFAULT_SUBNET_FILE})`;

/** Why a read failed, in words, and what to check: flanneld for a missing file, the configuration for the rest. */
const READ_FAILURES: Readonly<Record<string, [why: string, hint: string]>> = {
  ENOENT: ['no such file', FLANNELD_HINT],
  EACCES: ['permission denied', 'The plugin runs as root: check the file and its directories, and any SELinux or AppArmor policy'],
  EISDIR: ['it is a directory', SUBNET_FILE_KEY_HINT],
  ENOTDIR: ['a component of the path is not a directory', SUBNET_FILE_KEY_HINT],
  ENAMETOOLONG: ['the path is too long', SUBNET_FILE_KEY_HINT],
  ELOOP: ['too many levels of symbolic links', SUBNET_FILE_KEY_HINT],
  ENXIO: ['it is a socket or a device without a driver, not a file', SUBNET_FILE_KEY_HINT],
  [NOT_REGULAR]: ['it is a FIFO or socket, not a regular file', SUBNET_FILE_KEY_HINT],
};

/** The CNI error (code 999, as upstream) for a subnet.env that could not be read. */
export function subnetFileReadError(path: string, err: unknown): CniError {
  const shown = clip(path, 512);
  const code = errnoCode(err);
  if (code === TOO_LARGE) {
    return new CniError(
      CniCode.Internal,
      `flannel subnet file ${shown} is larger than ${sizeText(SUBNET_FILE_LIMIT)}, the limit for a subnet.env. ${SUBNET_FILE_KEY_HINT}`,
      `flanneld writes a subnet.env of a few hundred bytes (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ); ${shown} is something else`,
      { cause: err },
    );
  }
  const known = code === undefined ? undefined : READ_FAILURES[code];
  const [why, hint] = known ?? [err instanceof Error ? err.message : String(err), FLANNELD_HINT];
  const details =
    hint === FLANNELD_HINT
      ? `flanneld writes ${shown} once it holds this node's subnet lease; pods cannot get an address on this node until it does`
      : `"subnetFile" must name the subnet.env flanneld writes (its --subnet-file, default ${DEFAULT_SUBNET_FILE})`;
  return new CniError(CniCode.Internal, `failed to load flannel subnet file ${shown}: ${why}. ${hint}`, details, { cause: err });
}

/** Parses subnet.env text read from `path`: code 999 naming the problem. Never throws anything but a CniError. */
export function parseSubnetFileText(text: string, path: string): SubnetEnv {
  try {
    return parseSubnetEnv(text, clip(path, 512));
  } catch (err) {
    const msg = err instanceof FlannelError ? err.message : `${clip(path, 512)}: ${String(err)}`;
    // The parser quotes the offending line, which can be most of the 64 KiB.
    throw new CniError(CniCode.Internal, `invalid flannel subnet file: ${clip(msg, 1024)}`, `the file is written by flanneld; check the flannel pod log for this node`, { cause: err });
  }
}

/** Reads (at most SUBNET_FILE_LIMIT bytes) and parses `path`; code 999 with the file name and a hint on any failure. */
export async function loadSubnetEnv(path: string): Promise<SubnetEnv> {
  let text: string;
  try {
    text = await sys().readText(path, SUBNET_FILE_LIMIT);
  } catch (err) {
    throw subnetFileReadError(path, err);
  }
  return parseSubnetFileText(text, path);
}
