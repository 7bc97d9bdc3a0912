export { startDaemon, type DaemonDeps, type DaemonHandle } from './daemon.ts';
export { resolveExternalInterface } from './external-interface.ts';
export type { TrafficSetup } from './traffic-setup.ts';
