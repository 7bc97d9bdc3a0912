/**
 * @module doctor/gather/ethtool
 * `ethtool -k flannel.<VNI>`: whether TX checksum offload is on (the VXLAN-behind-NAT checksum
 * bug of kernels before 5.7).
 */
import type { CommandRunner } from '../../exec/index.ts';
import type { Link } from '../../kernel/index.ts';
import type { Read } from '../facts.ts';
import { commandOutput } from './firewall.ts';

/** The value of `tx-checksum-ip-generic` in `ethtool -k` output ("on"/"off", "[fixed]" dropped). */
export function parseTxChecksum(text: string): string | undefined {
  return /^\s*tx-checksum-ip-generic:\s*(\S+)/m.exec(text)?.[1];
}

export async function gatherTxChecksum(runner: CommandRunner, links: readonly Link[]): Promise<Record<string, Read<string>>> {
  const devices = links.filter((l) => l.kind === 'vxlan' && /^flannel(-v6)?\./.test(l.name));
  const out: Record<string, Read<string>> = {};
  await Promise.all(
    devices.map(async (l) => {
      const r = await commandOutput(runner, 'ethtool', ['-k', l.name]);
      if ('error' in r) out[l.name] = r;
      else {
        const v = parseTxChecksum(r.value);
        out[l.name] = v === undefined ? { error: `ethtool -k ${l.name} does not list tx-checksum-ip-generic` } : { value: v };
      }
    }),
  );
  return out;
}
