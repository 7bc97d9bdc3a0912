/**
 * @module lab/ui/path-parse
 * What the commands of a path trace print (`ip route get`, `ip neigh`, `bridge fdb`, `wg show`,
 * `etcdctl get`, `ip link`/`ip addr`), read into small values. Pure, tested with captured output.
 */
import { z } from 'zod';
import { Cidr, IPAddress } from '../../ip/index.ts';

/** The first line of `ip route get`: "[type] <dst> [from S] [via G] dev D [src A] ...". */
export interface RouteGet {
  /** unreachable, blackhole, prohibit, local, ... when it is not a unicast route. */
  readonly type?: string;
  readonly dst: string;
  readonly via?: string;
  readonly dev?: string;
  readonly src?: string;
}

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'nat', 'anycast']);

/** Words of a line, with "double-quoted strings" kept whole (quotes removed). */
export function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

function after(ws: readonly string[], key: string): string | undefined {
  const i = ws.indexOf(key);
  return i >= 0 ? ws[i + 1] : undefined;
}

export function parseRouteGet(text: string): RouteGet | undefined {
  const ws = words(text.trim().split('\n')[0] ?? '');
  const type = ROUTE_TYPES.has(ws[0] ?? '') ? ws.shift() : undefined;
  const dst = ws.shift();
  if (dst === undefined) return undefined;
  return { ...(type ? { type } : {}), dst, via: after(ws, 'via'), dev: after(ws, 'dev'), src: after(ws, 'src') };
}

/** One line of `ip neigh show <ip> dev <dev>`: "<ip> lladdr <mac> <STATE>". */
export interface Neighbour {
  readonly ip: string;
  readonly lladdr?: string;
  /** REACHABLE, STALE, PERMANENT, FAILED, INCOMPLETE, ... */
  readonly state: string;
}

export function parseNeighbour(text: string): Neighbour | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) return undefined;
  const ws = words(line);
  const state = [...ws].reverse().find((w) => /^[A-Z]+$/.test(w)) ?? '';
  return { ip: ws[0] ?? '', lladdr: after(ws, 'lladdr'), state };
}

/** The line of `bridge fdb show ...` for `mac` (the first one with a dst, else the first), and its dst. */
export function fdbEntry(text: string, mac: string): { line: string; dst?: string } | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.toLowerCase().startsWith(`${mac.toLowerCase()} `) || l.toLowerCase() === mac.toLowerCase());
  const line = lines.find((l) => words(l).includes('dst')) ?? lines[0];
  return line === undefined ? undefined : { line, dst: after(words(line), 'dst') };
}

/** A peer of `wg show <dev>`. */
export interface WireguardPeer {
  readonly key: string;
  readonly endpoint?: { readonly host: string; readonly port: number };
  readonly allowed: readonly Cidr[];
  /** The peer's lines as wg printed them. */
  readonly text: string;
}

export function parseWireguardPeers(text: string): WireguardPeer[] {
  return text
    .split(/\n(?=peer: )/)
    .filter((b) => b.startsWith('peer: '))
    .map((block) => {
      const lines = block.trimEnd().split('\n');
      const field = (name: string): string | undefined => lines.find((l) => l.trim().startsWith(`${name}: `))?.trim().slice(name.length + 2);
      const ep = field('endpoint');
      const colon = ep?.lastIndexOf(':') ?? -1;
      const endpoint = ep && colon > 0 ? { host: ep.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(ep.slice(colon + 1)) } : undefined;
      const allowed = (field('allowed ips') ?? '')
        .split(',')
        .map((s) => Cidr.tryParse(s.trim()))
        .filter((c): c is Cidr => c !== undefined);
      return { key: lines[0]?.slice('peer: '.length).trim() ?? '', ...(endpoint ? { endpoint } : {}), allowed, text: lines.join('\n') };
    });
}

/** The peer whose allowed ips hold `ip` (the most specific one, as WireGuard's routing picks it). */
export function wireguardPeerFor(text: string, ip: IPAddress): WireguardPeer | undefined {
  let best: { peer: WireguardPeer; prefix: number } | undefined;
  for (const peer of parseWireguardPeers(text)) {
    for (const c of peer.allowed) if (c.contains(ip) && (!best || c.prefix > best.prefix)) best = { peer, prefix: c.prefix };
  }
  return best?.peer;
}

const LeaseSchema = z.looseObject({ PublicIP: z.string(), BackendType: z.string().optional() });

/** `etcdctl get <key>`: the key line, then the lease's JSON; undefined when there is no such key. */
export function parseLease(text: string): z.infer<typeof LeaseSchema> | undefined {
  const value = text.split('\n').map((l) => l.trim()).filter(Boolean)[1];
  if (value === undefined) return undefined;
  try {
    const parsed = LeaseSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The first line of `ip [-d] link show` / `ip addr show`: "<n>: <name>[@peer]: <FLAGS> ... [master M] ... state S". */
export interface LinkHead {
  readonly name: string;
  readonly flags: readonly string[];
  readonly master?: string;
  readonly state?: string;
}

export function parseLinkHead(text: string): LinkHead | undefined {
  const m = /^\d+: ([^:@\s]+)(?:@\S+)?: <([^>]*)>(.*)$/m.exec(text);
  if (!m) return undefined;
  const rest = words(m[3] ?? '');
  return { name: m[1] ?? '', flags: (m[2] ?? '').split(',').filter(Boolean), master: after(rest, 'master'), state: after(rest, 'state') };
}

/** The state of a bridge port in `ip -d link show`'s "bridge_slave state <s> ..." line. */
export function bridgePortState(text: string): string | undefined {
  return /^\s*bridge_slave state (\S+)/m.exec(text)?.[1];
}

/** `ip -d link show <veth>` without the long tail of the bridge port's settings. */
export function trimLinkDetail(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => l.trimEnd())
    .map((l) => (/^\s*bridge_slave state \S+ /.test(l) ? `${/^\s*bridge_slave state \S+/.exec(l)?.[0] ?? l} …` : l))
    .join('\n');
}

/** The IPv4 addresses of `ip addr show <dev>`, as "10.244.3.1/24". */
export function inetAddresses(text: string): string[] {
  return [...text.matchAll(/^\s+inet (\S+)/gm)].map((m) => m[1] ?? '');
}

/** `ip addr show <dev>` without IPv6 and lifetime lines. */
export function trimAddr(text: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const l of text.trimEnd().split('\n')) {
    if (/^\s+valid_lft /.test(l)) continue;
    if (/^\s+inet6 /.test(l)) skipping = true;
    else if (/^\s+(inet|link)\/?\S* /.test(l) || /^\d+: /.test(l)) skipping = false;
    if (!skipping) out.push(l.trimEnd());
  }
  return out.join('\n');
}
