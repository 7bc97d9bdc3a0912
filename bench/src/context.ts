/** What every benchmark section gets: options, the run's unique prefix, artifacts, progress. */
import type { Artifacts, BuildMode } from './build.ts';

export type Backend = 'vxlan' | 'host-gw';
export type Section = 'convergence' | 'latency' | 'resources' | 'cni' | 'throughput';
export const SECTIONS: readonly Section[] = ['convergence', 'latency', 'resources', 'cni', 'throughput'];

export interface BenchOptions {
  /** The quick variant the test suite runs: tiny N, one iteration, 1 s iperf3. */
  readonly smoke: boolean;
  readonly backends: readonly Backend[];
  readonly sections: ReadonlySet<Section>;
  /** Peer counts for convergence (the largest is also where memory is sampled). */
  readonly sizes: readonly number[];
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
