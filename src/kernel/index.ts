/**
 * @module kernel
 * The network stack as small capabilities (kernel.ts), their objects (types.ts) and operations
 * built on them (ops.ts): NetlinkKernel (rtnetlink) or FakeKernel (in memory) behind them.
 */
export * from './types.ts';
export * from './kernel.ts';
export * from './ops.ts';
export { createNetlinkKernel, NetlinkKernel, type NetlinkKernelOptions } from './netlink-kernel.ts';
export { FakeKernel, type FakeLinkSpec, type KernelMethod } from './fake-kernel.ts';
export { isKernelErrno, kernelError } from './errno.ts';
export { bytesToMac, isMac, macToBytes, normalizeMac, randomMac } from './mac.ts';
