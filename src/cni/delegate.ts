/**
 * @module cni/delegate
 * Builds the configuration flannel hands to the real plugin (bridge by default), exactly as
 * upstream does: the user's `delegate` keys over flannel's defaults, name and ipam set by flannel,
 * host-local ranges for the node's subnets and routes to the cluster networks.
 */
import { Cidr } from '../ip/index.ts';
import type { SubnetEnv } from '../subnetenv/index.ts';
import { CniCode, CniError } from './cni-error.ts';
import { clip } from './limits.ts';
import type { FlannelNetConf, JsonObject } from './net-conf.ts';

export const DEFAULT_DELEGATE_TYPE = 'bridge';
export const DEFAULT_IPAM_TYPE = 'host-local';
/** Our own plugin name: delegating to it would recurse forever. */
const SELF_TYPE = 'flannel';

const has = (o: JsonObject, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function invalid(msg: string, details = ''): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, msg, details);
}

/** A plugin type is looked up as a file name in CNI_PATH: no paths, no dot names, not ourselves (code 2). */
export function validatePluginType(field: string, type: string): void {
  if (type === '' || type === '.' || type === '..' || type.includes('/') || type.includes('\0')) {
    throw new CniError(CniCode.UnsupportedField, `unsupported field ${field}: "${clip(type, 64)}" is not a plugin name`, 'a plugin type is the name of an executable in CNI_PATH, without a directory');
  }
  if (type === SELF_TYPE) {
    throw new CniError(CniCode.UnsupportedField, `unsupported field ${field}: "${type}"`, 'flannel cannot delegate to itself; use bridge (the default), ipvlan, macvlan or another main plugin');
  }
}

/** The user's `delegate` dictionary after upstream's checks (code 7). */
function userDelegate(conf: FlannelNetConf): JsonObject {
  const d = conf.delegate ?? {};
  if (has(d, 'type') && typeof d.type !== 'string') throw invalid("'delegate' dictionary, if present, must have (string) 'type' field");
  if (has(d, 'name')) throw invalid("'delegate' dictionary must not have 'name' field, it'll be set by flannel");
  if (has(d, 'ipam')) throw invalid("'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
  return { ...d };
}

function checkCidr(where: string, v: unknown): void {
  if (typeof v !== 'string') throw invalid(`failed to read IPAM routes: ${where} must be a CIDR string`, clip(JSON.stringify(v) ?? 'undefined'));
  if (!Cidr.tryParse(v)) throw invalid(`failed to read IPAM routes: ${where} "${clip(v, 64)}" is not a CIDR`);
}

/** The user's `ipam.routes`, kept as given after a shape check (code 7). */
function userRoutes(ipam: JsonObject | undefined): JsonObject[] {
  if (!ipam || !has(ipam, 'routes') || ipam.routes === null) return [];
  const routes = ipam.routes;
  if (!Array.isArray(routes)) throw invalid('failed to read IPAM routes: ipam.routes must be a list of {"dst": CIDR, "gw": IP}');
  return routes.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalid(`failed to read IPAM routes: ipam.routes[${i}] must be an object`);
    const route = r as JsonObject;
    checkCidr(`ipam.routes[${i}].dst`, route.dst);
    if (route.gw !== undefined && typeof route.gw !== 'string') throw invalid(`failed to read IPAM routes: ipam.routes[${i}].gw must be an IP address string`);
    return { ...route };
  });
}

/** Whether one of `routes` goes to `network`. */
function routesTo(routes: readonly JsonObject[], network: Cidr): boolean {
  for (const r of routes) if (typeof r.dst === 'string' && Cidr.tryParse(r.dst)?.equals(network)) return true;
  return false;
}

/** host-local IPAM for the node's subnet(s): the user's top-level `ipam` keys kept, ranges and routes set. */
export function buildIpam(userIpam: JsonObject | undefined, env: SubnetEnv): JsonObject {
  const ipam: JsonObject = { ...(userIpam ?? {}) };
  if (!has(ipam, 'type')) ipam.type = DEFAULT_IPAM_TYPE;
  const ranges: JsonObject[][] = [];
  if (env.subnet) ranges.push([{ subnet: env.subnet.toString() }]);
  if (env.ipv6Subnet) ranges.push([{ subnet: env.ipv6Subnet.toString() }]);
  ipam.ranges = ranges;
  const routes = userRoutes(userIpam);
  for (const nw of [env.network, env.ipv6Network]) {
    // A user route to the same network would make the delegate add one route twice (EEXIST).
    if (nw && !routesTo(routes, nw)) routes.push({ dst: nw.toString() });
  }
  ipam.routes = routes;
  return ipam;
}

/** The delegate configuration for ADD (and, saved, for DEL). */
export function buildDelegate(conf: FlannelNetConf, env: SubnetEnv): JsonObject {
  const d = userDelegate(conf);
  if (conf.runtimeConfig) d.runtimeConfig = conf.runtimeConfig;
  d.name = conf.name;
  if (!has(d, 'type')) d.type = DEFAULT_DELEGATE_TYPE;
  validatePluginType('delegate.type', d.type as string);
  if (!has(d, 'ipMasq')) d.ipMasq = !env.ipMasq; // flanneld masquerades itself unless told not to
  if (!has(d, 'mtu')) d.mtu = env.mtu;
  if (d.type === 'bridge' && !has(d, 'isGateway')) d.isGateway = true;
  if (conf.hasCniVersion) d.cniVersion = conf.cniVersion;
  d.ipam = buildIpam(conf.ipam, env);
  return d;
}

/** The delegate type of a configuration that has not been built (STATUS, GC): user's or bridge, checked. */
export function delegateType(conf: FlannelNetConf): string {
  const t = conf.delegate?.type;
  if (t !== undefined && typeof t !== 'string') throw invalid("'delegate' dictionary, if present, must have (string) 'type' field");
  const type = t ?? DEFAULT_DELEGATE_TYPE;
  validatePluginType('delegate.type', type);
  return type;
}
