/**
 * @module lab/kernel-features
 * Kernel features a lab backend (or a test) needs, probed in a throwaway network namespace (the
 * root namespace is never touched). Needs root.
 */
import { spawnSync } from 'node:child_process';
import { Netns, uniquePrefix } from './netns.ts';

export interface KernelFeature {
  readonly available: boolean;
  /** What the probe printed (the kernel's refusal when unavailable). */
  readonly detail: string;
}

let ipip: KernelFeature | undefined;

/** Whether this kernel can create an ipip device (`ip link add x type ipip local 127.0.0.1`); cached. */
export function kernelHasIpip(): KernelFeature {
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
