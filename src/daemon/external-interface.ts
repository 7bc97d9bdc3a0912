/**
 * @module daemon/external-interface
 * Chooses the interface for inter-node traffic as upstream does: --iface (name or IP, first
 * match wins), --iface-regex (IP or name), --iface-can-reach (the route's device), else the
 * device of the default route. --public-ip / --public-ipv6 override the advertised address.
 */
import type { ExternalInterface } from '../backend/index.ts';
import type { InterfaceOptions } from '../config/index.ts';
import { ConfigError } from '../errors/index.ts';
import type { IPAddress } from '../ip/index.ts';
import { defaultRouteLink, type Addr, type Addresses, type Link, type Links, type Routes } from '../kernel/index.ts';
import type { Logger } from '../log/index.ts';

const GLOBAL_SCOPE = 0;

/** What choosing the interface reads: devices, their addresses, routes. */
type NodeKernel = Links & Addresses & Routes;

interface Candidate {
  link: Link;
  addrs: Addr[];
}

async function candidates(kernel: NodeKernel): Promise<Candidate[]> {
  const [links, addrs] = await Promise.all([kernel.listLinks(), kernel.listAddrs()]);
  return links.map((link) => ({ link, addrs: addrs.filter((a) => a.linkIndex === link.index) }));
}

function firstGlobal(addrs: readonly Addr[], family: 4 | 6): IPAddress | undefined {
  return addrs.find((a) => a.ip.family === family && a.scope === GLOBAL_SCOPE && !a.ip.isLinkLocalUnicast())?.ip;
}

function notFound(message: string, hint: string): never {
  throw new ConfigError('E_IFACE_NOT_FOUND', message, { hint });
}

async function pick(kernel: NodeKernel, o: InterfaceOptions): Promise<{ link: Link; reason: string }> {
  if (o.iface.length > 0) {
    const all = await candidates(kernel);
    for (const want of o.iface) {
      const byName = all.find((c) => c.link.name === want);
      if (byName) return { link: byName.link, reason: `--iface ${want}` };
      const byIP = all.find((c) => c.addrs.some((a) => a.ip.toString() === want));
      if (byIP) return { link: byIP.link, reason: `--iface ${want}` };
    }
    const names = all.map((c) => c.link.name).join(', ');
    return notFound(`none of the interfaces given with --iface (${o.iface.join(', ')}) exists on this node`, `use one of: ${names}; or an address of one of them`);
  }
  if (o.ifaceRegex.length > 0) {
    const all = await candidates(kernel);
    for (const re of o.ifaceRegex) {
      const byIP = all.find((c) => c.addrs.some((a) => re.test(a.ip.toString())));
      if (byIP) return { link: byIP.link, reason: `--iface-regex ${re.source} (address)` };
      const byName = all.find((c) => re.test(c.link.name));
      if (byName) return { link: byName.link, reason: `--iface-regex ${re.source} (name)` };
    }
    return notFound(`no interface name or address matches --iface-regex ${o.ifaceRegex.map((r) => r.source).join(', ')}`, `interfaces here: ${all.map((c) => c.link.name).join(', ')}`);
  }
  if (o.ifaceCanReach) {
    const hop = await kernel.routeGet(o.ifaceCanReach).catch(() => undefined);
    const link = hop ? await kernel.getLinkByIndex(hop.linkIndex) : undefined;
    if (!link) return notFound(`no route to ${o.ifaceCanReach} (--iface-can-reach)`, 'check the routing table (ip route get <ip>) or use --iface');
    return { link, reason: `--iface-can-reach ${o.ifaceCanReach}` };
  }
  const link = (await defaultRouteLink(kernel, 4)) ?? (await defaultRouteLink(kernel, 6));
  if (!link) return notFound('this node has no default route, so flanneld cannot choose an interface', 'name the interface with --iface <name|ip> (or add a default route)');
  return { link, reason: 'default route' };
}

export async function resolveExternalInterface(kernel: NodeKernel, o: InterfaceOptions, log: Logger): Promise<ExternalInterface> {
  const { link, reason } = await pick(kernel, o);
  const addrs = await kernel.listAddrs(link.index);
  const ifaceAddr = firstGlobal(addrs, 4);
  const ifaceV6Addr = firstGlobal(addrs, 6);
  if (!ifaceAddr && !ifaceV6Addr) {
    throw new ConfigError('E_IFACE_NO_ADDRESS', `interface ${link.name} (chosen by ${reason}) has no IPv4 or IPv6 address`, {
      hint: `give ${link.name} an address, or choose another interface with --iface`,
    });
  }
  const publicIP = o.publicIP ?? ifaceAddr;
  const publicIPv6 = o.publicIPv6 ?? ifaceV6Addr;
  log.info(`Using interface ${link.name} (chosen by ${reason}) with address ${[ifaceAddr, ifaceV6Addr].filter(Boolean).join(', ')}`, { iface: link.name, mtu: link.mtu });
  log.info(`Using ${[publicIP, publicIPv6].filter(Boolean).join(' and ')} as external address${o.publicIP || o.publicIPv6 ? ' (from --public-ip/--public-ipv6)' : ''}`);
  return {
    name: link.name,
    index: link.index,
    mtu: link.mtu,
    ...(ifaceAddr ? { ifaceAddr } : {}),
    ...(ifaceV6Addr ? { ifaceV6Addr } : {}),
    ...(publicIP ? { publicIP } : {}),
    ...(publicIPv6 ? { publicIPv6 } : {}),
  };
}
