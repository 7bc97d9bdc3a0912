/**
 * @module traffic/iptables/version
 * What the installed iptables can do, from `iptables --version`: `--random-fully` and the
 * xtables lock flag `-w` for iptables-restore both arrived in 1.6.2.
 */

export interface IptablesCaps {
  version: string | undefined;
  /** "nf_tables" or "legacy" when the version line says so. */
  backend: string | undefined;
  randomFully: boolean;
  /** iptables-restore accepts -w. */
  restoreWait: boolean;
}

export function parseIptablesVersion(text: string): IptablesCaps {
  const m = /v(\d+)\.(\d+)\.(\d+)(?:\s+\(([^)]+)\))?/.exec(text);
  if (!m) return { version: undefined, backend: undefined, randomFully: false, restoreWait: false };
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const atLeast162 = a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
  return { version: `${a}.${b}.${c}`, backend: m[4], randomFully: atLeast162, restoreWait: atLeast162 };
}
