/**
 * One udp data path on its own, for test/integration/udp-tun.test.ts and test/perf: run inside a
 * node's network namespace (`ip netns exec <ns> node --import tsx udp-tun-node.ts '<json>'`).
 * It opens the socket and flannel0 with the native addon, sets flannel0 up as the backend does,
 * routes to the peers given, prints one JSON line {"ready":true,"device":...}, then answers
 * "stats" on stdin with a JSON line of the data path's counters and exits on "close" (or EOF),
 * closing everything (which removes flannel0).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Cidr, IPAddress } from '../../src/ip/index.ts';
import { createNetlinkKernel } from '../../src/kernel/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { nativeUdpIo, UDP_OVERHEAD, UdpDataPlane } from '../../src/backend/udp/index.ts';
import { ensureTunDevice } from '../../src/backend/udp/device.ts';
import { TUN_PATTERN } from '../../src/backend/udp/data-plane.ts';

export interface UdpNodeSpec {
  network: string;
  subnet: string;
  bind: string;
  port: number;
  extMtu: number;
  peers: Array<{ subnet: string; publicIP: string; backendType?: string }>;
  batch?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as UdpNodeSpec;
const log = createLogger({ level: 'warn', format: 'text', name: spec.subnet });
const kernel = createNetlinkKernel();
const io = nativeUdpIo();
const network = Cidr.parse(spec.network);
const subnet = Cidr.parse(spec.subnet);
const mtu = spec.extMtu - UDP_OVERHEAD;
let plane: UdpDataPlane;
try {
  const socket = io.openSocket(IPAddress.parse(spec.bind), spec.port);
  const tun = io.openTun(TUN_PATTERN);
  await ensureTunDevice(kernel, { name: tun.name, mtu, subnet, network });
  plane = new UdpDataPlane({
    kernel,
    io,
    log,
    network,
    lease: { subnet, attrs: { publicIP: IPAddress.parse(spec.bind), backendType: 'udp' } },
    port: spec.port,
    mtu,
    tun,
    socket,
    ...(spec.batch ? { batch: spec.batch } : {}),
  });
} catch (err) {
  // What start-up says to a user: the test checks the message and that nothing was left.
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message, code: (err as { code?: string }).code, hint: (err as { hint?: string }).hint })}\n`);
  await kernel.close();
  process.exit(1);
}
plane.start();
plane.apply({
  snapshot: true,
  events: spec.peers.map((p) => ({ type: 'added' as const, lease: { subnet: Cidr.parse(p.subnet), attrs: { publicIP: IPAddress.parse(p.publicIP), backendType: p.backendType ?? 'udp' } } })),
});
process.stdout.write(`${JSON.stringify({ ready: true, device: plane.deviceName, routes: plane.routeLines() })}\n`);

const stop = async (): Promise<void> => {
  plane.close();
  await kernel.close();
  process.exit(0);
};
// Garbage collections since the last "stats": a data path that allocates nothing per packet has
// (next to) none while packets flow.
let gc = { count: 0, ms: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line === 'stats') {
    process.stdout.write(`${JSON.stringify({ ...plane.stats(), gc, heapUsed: process.memoryUsage().heapUsed })}\n`);
    gc = { count: 0, ms: 0 };
  }
  else if (line === 'close') void stop();
});
rl.on('close', () => void stop());
