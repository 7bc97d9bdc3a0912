/**
 * @module cni/subnet-file
 * Loads flanneld's subnet.env for the plugin, turning every failure into a CNI error that says
 * what to do about it (field problem: pods stuck in ContainerCreating while flanneld is down).
 */
import { FlannelError } from '../errors/index.ts';
import { parseSubnetEnv, type SubnetEnv } from '../subnetenv/index.ts';
import { CniCode, CniError } from './cni-error.ts';
import { errnoCode, sys } from './sys/sys.ts';

/** Reads and parses `path`; code 999 with the file name and a hint on any failure. */
export async function loadSubnetEnv(path: string): Promise<SubnetEnv> {
  let text: string;
  try {
    text = await sys().readText(path);
  } catch (err) {
    const code = errnoCode(err);
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : err instanceof Error ? err.message : String(err);
    throw new CniError(
      CniCode.Internal,
      `failed to load flannel subnet file ${path}: ${why}. Check that flanneld is running on this node (see the flannel pod log for this node)`,
      `flanneld writes ${path} once it holds this node's subnet lease; pods cannot get an address on this node until it does`,
      { cause: err },
    );
  }
  try {
    return parseSubnetEnv(text, path);
  } catch (err) {
    const msg = err instanceof FlannelError ? err.message : String(err);
    throw new CniError(CniCode.Internal, `invalid flannel subnet file: ${msg}`, `the file is written by flanneld; check the flannel pod log for this node`, { cause: err });
  }
}
