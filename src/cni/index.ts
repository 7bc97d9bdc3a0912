/**
 * @module cni
 * The `flannel` CNI plugin: a meta-plugin that turns flanneld's subnet.env into a delegate
 * configuration (bridge + host-local by default) and runs it. Imports only ip, subnetenv and
 * errors (never daemon, backend, kernel or subnet), so the compiled binary starts fast.
 */
export { runCni, aboutText, type PluginIO, type PluginOutcome } from './plugin.ts';
export { CniError, CniCode, type CniErrorJson } from './cni-error.ts';
export { buildDelegate, buildIpam } from './delegate.ts';
export { parseNetConf, DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE, type FlannelNetConf } from './net-conf.ts';
export { SUPPORTED_VERSIONS, LATEST_VERSION, versionInfo } from './versions.ts';
export { canonicalJson } from './canonical-json.ts';
