/**
 * @module cni/versions
 * The CNI spec versions this plugin speaks and the per-command minimum versions.
 */
import { CniCode, CniError } from './cni-error.ts';
import { clip } from './limits.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';
/** What libcni assumes for a configuration without `cniVersion`. */
export const IMPLICIT_VERSION = '0.1.0';

/** The VERSION command's output. */
export function versionInfo(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

function parts(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Compares two dotted versions; both must be well-formed. */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  if (!pa || !pb) throw new CniError(CniCode.DecodingFailure, `malformed CNI version "${clip(pa ? b : a, 64)}"`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** Code 1 unless the configuration's version is one we support. */
export function requireSupported(configVersion: string): void {
  if ((SUPPORTED_VERSIONS as readonly string[]).includes(configVersion)) return;
  const list = SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(' ');
  throw new CniError(CniCode.IncompatibleVersion, 'incompatible CNI versions', `config is "${clip(configVersion, 64)}", plugin supports [${list}]`);
}

/** Code 1 when `command` does not exist in the configuration's spec version (CHECK: 0.4.0, STATUS/GC: 1.1.0). */
export function requireCommandVersion(command: string, configVersion: string, minimum: string): void {
  if (compareVersions(configVersion, minimum) < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${command}`, `${command} needs cniVersion ${minimum} or later, the config has "${clip(configVersion, 64)}"`);
  }
}
