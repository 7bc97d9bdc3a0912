/**
 * @module doctor/gather/iface
 * The interface flanneld uses between nodes, chosen with flanneld's own rules
 * (daemon/external-interface.ts: --iface, --iface-regex, --iface-can-reach, else the default
 * route), which only read the kernel.
 */
import type { InterfaceOptions } from '../../config/index.ts';
import { resolveExternalInterface } from '../../daemon/external-interface.ts';
import { silentLogger } from '../../log/index.ts';
import type { InterfaceChoice } from '../facts.ts';
import type { KernelReader } from './kernel.ts';

/** "--iface eth0" as flanneld logs it, in the report's words. */
function why(o: InterfaceOptions, name: string): string {
  if (o.iface.length > 0) return `--iface=${o.iface.join(',')}`;
  if (o.ifaceRegex.length > 0) return `--iface-regex=${o.ifaceRegex.map((r) => r.source).join(',')}`;
  if (o.ifaceCanReach) return `--iface-can-reach=${o.ifaceCanReach}: the route to it goes out via ${name}`;
  return "the default route's interface";
}

export async function resolveInterface(kernel: KernelReader, o: InterfaceOptions): Promise<InterfaceChoice> {
  const ext = await resolveExternalInterface(kernel, o, silentLogger);
  const address = ext.ifaceAddr ?? ext.ifaceV6Addr;
  return { name: ext.name, index: ext.index, ...(address ? { address: address.toString() } : {}), why: why(o, ext.name) };
}
