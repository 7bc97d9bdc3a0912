export * from './network-config.ts';
export { parseNetworkConfig, type ParseOptions } from './parse-network-config.ts';
export { FLAGS, envName, formatHelp, type FlagSpec } from './flags.ts';
export { parseDaemonOptions, type DaemonOptions, type EtcdOptions, type KubeOptions, type InterfaceOptions } from './daemon-options.ts';
