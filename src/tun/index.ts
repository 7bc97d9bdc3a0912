export { findAddon, isAddonSystemError, loadTunAddon, NATIVE_COUNTERS, type NativeCounter, type PumpHandle, type PumpOptions, type TunAddon } from './addon.ts';
export { openTun, TUN_PATH, type TunDevice } from './device.ts';
export { openUdpSocket, SOCKET_BUFFER_BYTES, type UdpSocket } from './socket.ts';
