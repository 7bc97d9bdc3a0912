/**
 * @module cli/v8-tuning
 * V8 settings for flanneld, applied by flanneld's entry module before anything else is loaded, so
 * every way of starting it gets them: `node dist/cli/flanneld.js`, the image's wrapper, the
 * systemd unit, `npx flanneld`, the lab, the tests and the benchmark (through tsx too). One place,
 * no launcher flags to keep in sync.
 *
 * flanneld is a long-running daemon whose heap is a few tens of MB; V8's defaults are tuned for
 * throughput on big heaps, and with 5000 peers they cost 150-280 MiB of RSS (bench/README.md):
 *
 * - semi-space growth 1: the young generation stays at its initial 1 MiB semi-spaces instead of
 *   growing to 16 MiB ones (up to ~48 MiB of new space) while a big pass allocates;
 * - max-opt 2: no TurboFan (Maglev is off in Node 20, so: interpreter + Sparkplug baseline
 *   code). TurboFan's compiler zones and code cost ~10 MiB of RSS idle; flanneld's hot paths are
 *   a few thousand kernel requests per pass, which the baseline tier handles within the
 *   convergence and latency targets;
 * - optimize-for-size: heap growth limited to 1.3x of the live size with a 2 MiB minimum step,
 *   and memory-reducing (compacting) full GCs, instead of growing up to 4x before collecting.
 *
 * These are V8 flags set at run time with v8.setFlagsFromString; each is read by V8 when it
 * decides (new-space growth, tier-up, heap limits), so it takes effect for the rest of the
 * process. v8-tuning.test.ts checks they still do on the Node in use.
 *
 * Measured and left out (test/perf/runtime-floor.ts; bench at 5000 vxlan peers, Node 20):
 * - --single-threaded-gc, --single-threaded and --lite-mode abort the process when set here
 *   (cppgc's concurrent marker; --lite-mode implies --jitless, and node's loader compiles
 *   WebAssembly to import CommonJS packages). As node command-line flags, --single-threaded-gc
 *   saved nothing and programmed the peers 25-30% slower; --lite-mode saved ~2 MiB anonymous and
 *   ~5 MiB of node's binary (pages every node process shares) but made start-up 1.2-2x slower;
 * - --v8-pool-size=1 (also a command-line flag; 3 threads fewer): ~1 MiB at 5000 peers, none idle;
 * - --bytecode-old-age=1 plus full GCs after start-up: nothing; the idle heap is live data
 *   (the packages' modules: etcd3 with grpc-js and protobufjs alone hold ~5.5 MiB of it).
 */
import { setFlagsFromString } from 'node:v8';

export const V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=1', '--max-opt=2', '--optimize-for-size'];

for (const flag of V8_FLAGS) setFlagsFromString(flag);
