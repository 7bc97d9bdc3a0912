/**
 * @module backend/reconcile/sample
 * What the reconciler's log lines say about peers and objects.
 */
import type { Lease } from '../../lease/index.ts';

const LOG_EXAMPLES = 10;

/** Counts items and keeps the first few descriptions for a log line (describing thousands is wasted work). */
export class Sample {
  count = 0;
  readonly #shown: string[] = [];

  add(describe: () => string): void {
    if (this.count++ < LOG_EXAMPLES) this.#shown.push(describe());
  }

  text(): string {
    const rest = this.count - this.#shown.length;
    return rest > 0 ? `${this.#shown.join(', ')} and ${rest} more` : this.#shown.join(', ');
  }
}

/** "10.244.2.0/24 at 192.0.2.12". */
export function peerName(lease: Lease): string {
  const subnets = [lease.subnet, lease.ipv6Subnet].filter(Boolean).map(String).join(' + ');
  const at = [lease.attrs.publicIP, lease.attrs.publicIPv6].filter(Boolean).map(String).join(' / ');
  return `${subnets} at ${at || '(no public IP)'}`;
}

export function peerFields(lease: Lease): Record<string, string | undefined> {
  return { subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), publicIP: lease.attrs.publicIP?.toString() };
}
