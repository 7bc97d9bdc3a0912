/** What every benchmark section gets: options, the run's unique prefix, artifacts, progress. */
import type { Artifacts, BuildMode } from './build.ts';

/** Every backend the benchmark measures, in the order of a full run (`--backends` picks some). */
export const BACKENDS = ['vxlan', 'host-gw', 'wireguard', 'udp', 'extension', 'ipip'] as const;
export type Backend = (typeof BACKENDS)[number];
/** The backends the control-plane sections (convergence, latency, resources) know how to fake peers for. */
export const CONTROL_PLANE_BACKENDS = ['vxlan', 'host-gw'] as const;
export type ControlPlaneBackend = (typeof CONTROL_PLANE_BACKENDS)[number];

export function isControlPlaneBackend(b: Backend): b is ControlPlaneBackend {
  return (CONTROL_PLANE_BACKENDS as readonly string[]).includes(b);
}
export type Section = 'convergence' | 'latency' | 'resources' | 'cni' | 'throughput' | 'lab';
export const SECTIONS: readonly Section[] = ['convergence', 'latency', 'resources', 'cni', 'throughput', 'lab'];

export interface BenchOptions {
  /** The quick variant the test suite runs: tiny N, one iteration, 1 s iperf3. */
  readonly smoke: boolean;
  readonly backends: readonly Backend[];
  readonly sections: ReadonlySet<Section>;
  /** Peer counts for convergence (the largest is also where memory is sampled). */
  readonly sizes: readonly number[];
  /** Node counts of the lab-scale rows (`lab up --nodes N --pods 1`). */
  readonly labSizes: readonly number[];
  /** Runs per size, ours and floor alternating; medians are reported. */
  readonly iterations: number;
  /** Single-lease latency: at this N, this many events (vxlan). */
  readonly latencyAt: number;
  readonly latencyEvents: number;
  readonly cniPods: number;
  readonly iperfSeconds: number;
  readonly iperfRuns: number;
  /** Wait after convergence before sampling memory, and the window CPU use is measured over. */
  readonly settleMs: number;
  readonly cpuWindowMs: number;
  readonly build: BuildMode;
  /** Extra node flags for flanneld (experiments: e.g. a V8 setting, a heap snapshot signal). */
  readonly nodeFlags: readonly string[];
  /** Directory for flanneld CPU profiles (node --cpu-prof); none when undefined. */
  readonly cpuProfDir: string | undefined;
  /** Where latest.json / latest.md go. */
  readonly outDir: string;
}

export interface BenchContext {
  readonly options: BenchOptions;
  /** Unique per run: every namespace of the run starts with it. */
  readonly prefix: string;
  /** Per-run scratch directory (lab state, batch files). */
  readonly stateRoot: string;
  readonly artifacts: Artifacts;
  readonly cpuProfDir: string | undefined;
  progress(msg: string): void;
  /** Runs on the way out, also after a failure or Ctrl-C. */
  registerCleanup(fn: () => void): void;
}
