/**
 * @module backend/vxlan/offload
 * Turns off TX checksum offload on the VTEP. With it on, the kernel's VXLAN checksums go wrong
 * once MASQUERADE --random-fully rewrites the outer source port, and peers drop the packets
 * ("bad udp cksum", 63 s stalls behind NAT; ff#1279, ff#1929). Linux 5.7 fixed that, and with
 * the offload off the device loses TSO too (pod-to-pod VXLAN throughput 0.22x of the same tunnel
 * with it on, bench/results), so by default this runs on older kernels only
 * (config/daemon-options.ts). rtnetlink cannot change offloads, so this shells out to ethtool.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../../log/index.ts';

export interface CommandResult {
  readonly code: number;
  readonly stderr: string;
}

/** Runs a command; rejects only when it cannot be started (ENOENT when missing). */
export type CommandRunner = (cmd: string, args: readonly string[]) => Promise<CommandResult>;

export const execRunner: CommandRunner = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err && typeof err.code === 'string') return reject(err);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr: String(stderr).trim() });
    });
  });

export async function disableTxChecksumOffload(device: string, run: CommandRunner, log: Logger): Promise<void> {
  const args = ['-K', device, 'tx-checksum-ip-generic', 'off'];
  const manual = `ethtool ${args.join(' ')}`;
  try {
    const r = await run('ethtool', args);
    if (r.code === 0) log.info(`disabled TX checksum offload on ${device} (VXLAN behind NAT drops packets otherwise)`);
    else log.warn(`could not disable TX checksum offload on ${device}: ethtool exited with ${r.code}${r.stderr ? `: ${r.stderr}` : ''}`, { hint: `run "${manual}" by hand` });
  } catch (err) {
    const missing = (err as { code?: unknown }).code === 'ENOENT';
    log.warn(`could not disable TX checksum offload on ${device}: ${missing ? 'ethtool is not installed' : String(err)}`, {
      hint: `install ethtool, or run "${manual}" after every start (pods behind NAT may see 63 s stalls otherwise)`,
    });
  }
}
