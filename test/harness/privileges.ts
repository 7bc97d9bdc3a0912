/**
 * Guards for tests that need root or a kernel feature. Outside CI they skip with the reason;
 * under CI=true a missing root is a failure, never a silent skip.
 */
import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const inCI = process.env.CI === 'true';

/** Returns a skip reason, or undefined when the test may run. Throws under CI when not root. */
export function privilegedSkipReason(needs: string[] = []): string | undefined {
  if (!isRoot) {
    if (inCI) throw new Error('CI=true but not running as root: privileged tests must run in CI');
    return 'needs root (network namespaces); run the suite as root';
  }
  for (const cmd of needs) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    if (r.status !== 0) {
      const msg = `needs "${cmd}" on PATH; run scripts/setup.sh to install it`;
      if (inCI) throw new Error(msg);
      return msg;
    }
  }
  return undefined;
}

/** Use as `{ skip: skipUnlessPrivileged(['etcd']) }` in describe/it options. */
export function skipUnlessPrivileged(needs: string[] = []): string | false {
  const reason = privilegedSkipReason(needs);
  if (reason) {
    console.log(`# SKIP privileged test: ${reason}`);
    return reason;
  }
  return false;
}

export function requirePrivileges(t: TestContext, needs: string[] = []): boolean {
  const reason = privilegedSkipReason(needs);
  if (reason) {
    t.skip(reason);
    return false;
  }
  return true;
}
