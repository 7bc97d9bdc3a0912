/**
 * Test-only: drives a NetlinkKernel from inside a network namespace for kernel.test.ts.
 * Run as `ip netns exec <ns> node --import tsx test/integration/kernel-probe.ts [options-json]`.
 * Reads one JSON request per line on stdin: {"id":1,"op":"createVxlan","args":{...}}; writes
 * {"id":1,"ok":true,"result":...} or {"id":1,"ok":false,"error":{name,code,message}}, and
 * {"event":{...}} for each notification after a "subscribe" op.
 */
import { createInterface } from 'node:readline';
import { Cidr, IPAddress, type Family } from '../../src/ip/index.ts';
import { createNetlinkKernel, defaultRouteLink, listFdb, listNeighbors, listRoutes, type EventGroup, type Kernel, type NetlinkKernelOptions } from '../../src/kernel/index.ts';

type Args = Record<string, unknown>;

const options = JSON.parse(process.argv[2] ?? '{}') as NetlinkKernelOptions;
const kernel = createNetlinkKernel(options);
const subscriptions = new AbortController();

function str(a: Args, key: string): string {
  const v = a[key];
  if (typeof v !== 'string') throw new TypeError(`argument ${key} must be a string`);
  return v;
}
function num(a: Args, key: string): number {
  const v = a[key];
  if (typeof v !== 'number') throw new TypeError(`argument ${key} must be a number`);
  return v;
}
const opt = <T>(a: Args, key: string, read: (a: Args, key: string) => T): T | undefined => (a[key] === undefined ? undefined : read(a, key));
const ip = (a: Args, key: string): IPAddress => IPAddress.parse(str(a, key));
const cidr = (a: Args, key: string): Cidr => Cidr.parse(str(a, key));
const bool = (a: Args, key: string): boolean => a[key] === true;
const family = (a: Args): Family => (num(a, 'family') === 6 ? 6 : 4);
const linkRef = (a: Args): string | number => (typeof a.link === 'number' ? a.link : str(a, 'link'));

function routeSpec(a: Args) {
  const gateway = opt(a, 'gateway', ip);
  const table = opt(a, 'table', num);
  return { dst: cidr(a, 'dst'), linkIndex: num(a, 'linkIndex'), onlink: bool(a, 'onlink'), ...(gateway ? { gateway } : {}), ...(table ? { table } : {}) };
}
const fdbSpec = (a: Args) => ({ linkIndex: num(a, 'linkIndex'), mac: str(a, 'mac'), dst: ip(a, 'dst') });

/** Replaces `count` routes 10.<i>.0/24-style under `base` concurrently and reports how long it took. */
async function benchRoutes(k: Kernel, a: Args): Promise<{ ms: number }> {
  const base = cidr(a, 'base');
  const gateway = ip(a, 'gateway');
  const linkIndex = num(a, 'linkIndex');
  const specs = Array.from({ length: num(a, 'count') }, (_, i) => ({ dst: base.subnetAt(24, BigInt(i)), gateway, linkIndex }));
  const t0 = performance.now();
  await Promise.all(specs.map((s) => k.replaceRoute(s)));
  return { ms: performance.now() - t0 };
}

async function benchNeighbors(k: Kernel, a: Args): Promise<{ ms: number }> {
  const base = cidr(a, 'base');
  const linkIndex = num(a, 'linkIndex');
  const t0 = performance.now();
  await Promise.all(Array.from({ length: num(a, 'count') }, (_, i) => k.replaceNeighbor({ linkIndex, ip: base.ip.add(i), mac: str(a, 'mac') })));
  return { ms: performance.now() - t0 };
}

const ops: Record<string, (a: Args) => Promise<unknown>> = {
  getLink: (a) => kernel.getLink(str(a, 'name')),
  getLinkByIndex: (a) => kernel.getLinkByIndex(num(a, 'index')),
  listLinks: () => kernel.listLinks(),
  createVxlan: (a) => {
    const local = opt(a, 'local', ip);
    const linkIndex = opt(a, 'linkIndex', num);
    const mtu = opt(a, 'mtu', num);
    const mac = opt(a, 'mac', str);
    return kernel.createLink({
      kind: 'vxlan',
      name: str(a, 'name'),
      vni: num(a, 'vni'),
      port: num(a, 'port'),
      learning: bool(a, 'learning'),
      gbp: bool(a, 'gbp'),
      ...(local ? { local } : {}),
      ...(linkIndex !== undefined ? { linkIndex } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(mac ? { mac } : {}),
    });
  },
  deleteLink: (a) => kernel.deleteLink(linkRef(a)),
  setLinkUp: (a) => kernel.setLinkUp(linkRef(a)),
  setLinkMtu: (a) => kernel.setLinkMtu(linkRef(a), num(a, 'mtu')),
  setLinkMac: (a) => kernel.setLinkMac(linkRef(a), str(a, 'mac')),
  listAddrs: (a) => kernel.listAddrs(opt(a, 'linkIndex', num), a.family === undefined ? undefined : family(a)),
  addAddr: (a) => kernel.addAddr(num(a, 'linkIndex'), { ip: ip(a, 'ip'), prefix: num(a, 'prefix') }),
  delAddr: (a) => kernel.delAddr(num(a, 'linkIndex'), { ip: ip(a, 'ip'), prefix: num(a, 'prefix') }),
  listRoutes: (a) => listRoutes(kernel, family(a)),
  replaceRoute: (a) => kernel.replaceRoute(routeSpec(a)),
  deleteRoute: (a) => kernel.deleteRoute({ dst: cidr(a, 'dst') }),
  routeGet: (a) => kernel.routeGet(ip(a, 'ip')),
  defaultRouteLink: (a) => defaultRouteLink(kernel, family(a)),
  listNeighbors: (a) => listNeighbors(kernel, num(a, 'linkIndex'), family(a)),
  replaceNeighbor: (a) => kernel.replaceNeighbor({ linkIndex: num(a, 'linkIndex'), ip: ip(a, 'ip'), mac: str(a, 'mac') }),
  deleteNeighbor: (a) => kernel.deleteNeighbor({ linkIndex: num(a, 'linkIndex'), ip: ip(a, 'ip') }),
  listFdb: (a) => listFdb(kernel, num(a, 'linkIndex')),
  appendFdb: (a) => kernel.appendFdb(fdbSpec(a)),
  deleteFdb: (a) => kernel.deleteFdb(fdbSpec(a)),
  subscribe: async (a) => {
    const groups = a.groups as EventGroup[];
    kernel.subscribe(groups, subscriptions.signal, (event) => write({ event }));
  },
  benchRoutes: (a) => benchRoutes(kernel, a),
  benchNeighbors: (a) => benchNeighbors(kernel, a),
};

function write(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const req = JSON.parse(line) as { id: number; op: string; args?: Args };
  const run = ops[req.op];
  if (!run) return write({ id: req.id, ok: false, error: { name: 'Error', code: 'EPROBE', message: `unknown op ${req.op}` } });
  run(req.args ?? {}).then(
    (result) => write({ id: req.id, ok: true, result: result ?? null }),
    (err: Error & { code?: string }) => write({ id: req.id, ok: false, error: { name: err.name, code: err.code, message: err.message } }),
  );
});
lines.on('close', () => {
  subscriptions.abort();
  void kernel.close();
});
