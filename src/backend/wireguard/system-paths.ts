/**
 * @module backend/wireguard/system-paths
 * The data paths of a real machine: kernel WireGuard over generic netlink when the kernel has the
 * "wireguard" family, and wireguard-go (started and supervised by flanneld, configured over its
 * UAPI socket in /var/run/wireguard) when it is installed.
 */
import type { Links } from '../../kernel/index.ts';
import { GenetlinkControl, kernelHasWireguard } from '../../wireguard/genetlink.ts';
import { NetlinkGenlTransport } from '../../wireguard/netlink-transport.ts';
import { UapiControl } from '../../wireguard/uapi.ts';
import { WIREGUARD_GO_PACKAGE, findExecutable, missingWireguardGo, startWireguardGo } from '../../wireguard/userspace.ts';
import { kernelDataPath, type DataPaths } from './data-path.ts';

export interface SystemPathsOptions {
  /** The wireguard-go program, a path or a name on PATH (default "wireguard-go"). */
  readonly wireguardGo?: string;
  /** Told how to read each supervisor's restart count. */
  readonly onWireguardGo?: (device: string, restarts: () => number) => void;
}

export function systemDataPaths(links: Links, options: SystemPathsOptions = {}): DataPaths {
  return {
    async kernel() {
      const transport = new NetlinkGenlTransport();
      const probe = await kernelHasWireguard(transport);
      if (!probe.available) {
        transport.close();
        return { unavailable: probe.reason };
      }
      return kernelDataPath(links, new GenetlinkControl(transport));
    },
    async userspace(log) {
      const name = options.wireguardGo ?? WIREGUARD_GO_PACKAGE;
      const path = process.env.PATH ?? '';
      const binary = findExecutable(name, path);
      if (binary === undefined) {
        const missing = missingWireguardGo(name, path);
        return { unavailable: missing.message, ...(missing.hint ? { hint: missing.hint } : {}) };
      }
      return {
        kind: 'userspace',
        control: new UapiControl(),
        async start(device, onReady, signal) {
          const go = await startWireguardGo({ device, logger: log, binary, onStarted: (_started, s) => onReady(s) }, signal);
          options.onWireguardGo?.(device, () => go.restarts);
          return { created: true, stopped: go.stopped };
        },
      };
    },
  };
}
