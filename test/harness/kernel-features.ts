/**
 * Kernel features a test needs (probed by src/lab/kernel-features.ts). A missing kernel feature is
 * the one reason a privileged test may skip under CI.
 */
import { kernelHasIpip } from '../../src/lab/kernel-features.ts';

export { kernelHasIpip };

/** A skip reason when the kernel has no ipip module (printed, as the one skip allowed under CI), else false. */
export function skipUnlessIpip(what: string): string | false {
  const probe = kernelHasIpip();
  if (probe.available) return false;
  const reason = `this kernel has no ipip module (ip link add ... type ipip: "${probe.detail}"; modprobe ipip where the module exists): ${what} needs it`;
  console.log(`# SKIP ${reason}`);
  return reason;
}
