/**
 * @module backend/vxlan/offload
 * Turns off TX checksum offload on the VTEP. With it on, the kernel's VXLAN checksums go wrong
 * once MASQUERADE --random-fully rewrites the outer source port, and peers drop the packets
 * ("bad udp cksum", 63 s stalls behind NAT; ff#1279, ff#1929). Linux 5.7 fixed that, and with
 * the offload off the device loses TSO too (pod-to-pod VXLAN throughput 0.22x of the same tunnel
 * with it on, bench/results), so by default this runs on older kernels only
 * (config/daemon-options.ts). rtnetlink cannot change offloads, so this shells out to ethtool.
 */
import { COMMAND_NOT_FOUND, type CommandRunner } from '../../exec/index.ts';
import { describeError } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';

export async function disableTxChecksumOffload(device: string, run: CommandRunner, log: Logger): Promise<void> {
  const args = ['-K', device, 'tx-checksum-ip-generic', 'off'];
  const manual = `ethtool ${args.join(' ')}`;
  const notInstalled = (why: string): void =>
    log.warn(`could not disable TX checksum offload on ${device}: ${why}`, {
      hint: `install ethtool, or run "${manual}" after every start (pods behind NAT may see 63 s stalls otherwise)`,
    });
  try {
    const r = await run.run('ethtool', args, { signal: AbortSignal.timeout(10_000) });
    if (r.code === 0) log.info(`disabled TX checksum offload on ${device} (VXLAN behind NAT drops packets otherwise)`);
    else if (r.code === COMMAND_NOT_FOUND) notInstalled('ethtool is not installed');
    else log.warn(`could not disable TX checksum offload on ${device}: ethtool exited with ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`, { hint: `run "${manual}" by hand` });
  } catch (err) {
    notInstalled(describeError(err));
  }
}
