/**
 * Probes for kernel features a test needs, in a throwaway network namespace (the root namespace is
 * never touched). A missing kernel feature is the one reason a privileged test may skip under CI.
 */
import { spawnSync } from 'node:child_process';
import { Netns, uniquePrefix } from '../../src/lab/netns.ts';

let ipip: { available: boolean; detail: string } | undefined;

/** Whether this kernel can create an ipip device (`ip link add x type ipip local 127.0.0.1`); cached. Needs root. */
export function kernelHasIpip(): { available: boolean; detail: string } {
  if (ipip) return ipip;
  const ns = Netns.create(uniquePrefix('flk'));
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, 'ip', 'link', 'add', 'probe0', 'type', 'ipip', 'local', '127.0.0.1'], { encoding: 'utf8', timeout: 20_000 });
    ipip = { available: r.status === 0, detail: (r.stderr || r.stdout || `exit ${r.status ?? r.signal}`).trim() };
    return ipip;
  } finally {
    ns.delete();
  }
}

/** A skip reason when the kernel has no ipip module (printed, as the one skip allowed under CI), else false. */
export function skipUnlessIpip(what: string): string | false {
  const probe = kernelHasIpip();
  if (probe.available) return false;
  const reason = `this kernel has no ipip module (ip link add ... type ipip: "${probe.detail}"; modprobe ipip where the module exists): ${what} needs it`;
  console.log(`# SKIP ${reason}`);
  return reason;
}
