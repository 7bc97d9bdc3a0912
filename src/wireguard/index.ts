/**
 * @module wireguard
 * WireGuard building blocks shared by the wireguard backend's two data paths: keys and the key
 * file, the WireguardControl seam, its kernel (generic netlink) and userspace (wireguard-go UAPI)
 * implementations, and the wireguard-go supervisor.
 */
export * from './types.ts';
export * from './keys.ts';
export * from './key-file.ts';
export { UapiControl, DEFAULT_SOCKET_DIR, uapiSocketPath, encodeSetRequest, parseGetLines, splitReply, formatEndpoint, parseEndpoint, type UapiOptions } from './uapi.ts';
export { GenetlinkControl, kernelHasWireguard, resolveWireguardFamily, noKernelWireguard, encodeSetDevice, decodeGetDevice, GenlErrnoError, type GenlTransport } from './genetlink.ts';
export { NetlinkGenlTransport } from './netlink-transport.ts';
export { startWireguardGo, findExecutable, missingWireguardGo, retireWireguardGo, spawnLauncher, WIREGUARD_GO_PACKAGE, type WireguardGo, type WireguardGoOptions, type Launcher, type LaunchedProcess, type ExitInfo } from './userspace.ts';
