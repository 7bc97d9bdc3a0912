/**
 * @module kernel
 * The network stack behind one interface: NetlinkKernel (rtnetlink) or FakeKernel (in memory).
 */
export * from './kernel.ts';
export { createNetlinkKernel, NetlinkKernel, type NetlinkKernelOptions } from './netlink-kernel.ts';
export { FakeKernel, type FakeLinkSpec, type KernelMethod } from './fake-kernel.ts';
export { isKernelErrno, kernelError } from './errno.ts';
export { bytesToMac, isMac, macToBytes, normalizeMac, randomMac } from './mac.ts';
