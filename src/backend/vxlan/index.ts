/**
 * @module backend/vxlan
 * The default backend: pod traffic to other nodes goes through a VXLAN device, flannel.<VNI>
 * (flannel-v6.<VNI> for IPv6), with one neighbour, one FDB entry and one route per peer, all
 * static (no learning, no multicast). Register: device first (its MAC goes into the lease), then
 * the lease, then the device's address.
 */
import { ConfigError } from '../../errors/index.ts';
import { isKernelErrno } from '../../kernel/index.ts';
import { baseLeaseAttrs, type BackendFactory, type Network } from '../backend.ts';
import { PeerReconciler, type ReconcileTuning } from '../peer-reconciler.ts';
import { watchPeers } from '../../subnet/index.ts';
import { decodeVxlanData, encodeVxlanData } from './backend-data.ts';
import { parseVxlanConfig } from './config.ts';
import { VxlanDataPlane } from './data-plane.ts';
import { ensureVxlanDevice } from './device.ts';
import { execRunner, type CommandRunner } from '../../exec/index.ts';
import { disableTxChecksumOffload } from './offload.ts';
import { configureVtep, vtepAddress, vtepSpecs, type Vtep } from './vtep.ts';

export { parseVxlanConfig, type VxlanConfig } from './config.ts';

function ignoreMissingLink(err: unknown): void {
  if (!isKernelErrno(err, 'ENODEV')) throw err;
}
export { decodeVxlanData, encodeVxlanData, type VxlanLeaseData } from './backend-data.ts';

export interface VxlanInit extends ReconcileTuning {
  /** Turn TX checksum offload off on the VTEPs (--vxlan-disable-tx-checksum-offload; see offload.ts). */
  readonly disableTxChecksumOffload?: boolean;
  /** Runs ethtool (tests pass a recorder). */
  readonly runCommand?: CommandRunner;
}

export function vxlan(init: VxlanInit = {}): BackendFactory {
  return {
    type: 'vxlan',
    checkConfig: (config) => parseVxlanConfig(config.backend.raw),
    create: ({ subnets, kernel, extIface, log }) => ({
      async registerNetwork(config, hints, signal, options = {}): Promise<Network> {
        const { undo } = options;
        const { config: cfg, warnings } = parseVxlanConfig(config.backend.raw);
        for (const w of warnings) log.warn(`network config: ${w}`);
        log.info(`VXLAN config: VNI=${cfg.vni} Port=${cfg.port} GBP=${cfg.gbp} Learning=${cfg.learning} DirectRouting=${cfg.directRouting}${cfg.mtu ? ` MTU=${cfg.mtu}` : ''}`);
        if (cfg.mtu !== undefined && cfg.mtu > extIface.mtu) {
          throw new ConfigError('E_BACKEND_CONFIG', `Backend.MTU ${cfg.mtu} is larger than the MTU of ${extIface.name} (${extIface.mtu}): the kernel refuses a VXLAN device larger than its underlay allows`, {
            hint: `set Backend.MTU to at most ${extIface.mtu} (it is meant for paths narrower than the interface, e.g. VPNs), or leave it out`,
          });
        }
        const onCreated = init.disableTxChecksumOffload ? (dev: string) => disableTxChecksumOffload(dev, init.runCommand ?? execRunner(), log) : undefined;

        const stored = await subnets.storedBackendData?.(signal);
        const storedMac = (family: 4 | 6): string | undefined => {
          const d = decodeVxlanData(family === 4 ? stored?.v4 : stored?.v6);
          return 'vtepMac' in d ? d.vtepMac : undefined;
        };
        const vteps: Vtep[] = [];
        for (const spec of vtepSpecs(cfg, config, extIface)) {
          const existed = (await kernel.getLink(spec.name)) !== undefined;
          const { link } = await ensureVxlanDevice(kernel, spec, log, undefined, storedMac(spec.family));
          if (!existed) undo?.add(`delete ${spec.name}`, async () => kernel.deleteLink(spec.name).catch(ignoreMissingLink));
          vteps.push({ spec, index: link.index, mac: link.mac });
        }
        const v4 = vteps.find((v) => v.spec.family === 4);
        const v6 = vteps.find((v) => v.spec.family === 6);
        const lease = await subnets.acquireLease({
          config,
          attrs: {
            ...baseLeaseAttrs(extIface, config, 'vxlan'),
            ...(v4 ? { backendData: encodeVxlanData({ vni: cfg.vni, vtepMac: v4.mac }) } : {}),
            ...(v6 ? { backendV6Data: encodeVxlanData({ vni: cfg.vni, vtepMac: v6.mac }) } : {}),
          },
          hints,
          signal,
          ...options,
        });

        for (const vtep of vteps) {
          vtep.address = vtepAddress(lease, vtep.spec.family);
          const link = (await kernel.getLinkByIndex(vtep.index)) ?? (await ensureVxlanDevice(kernel, vtep.spec, log, vtep.mac)).link;
          vtep.index = link.index;
          await configureVtep(kernel, vtep, link, log);
          await onCreated?.(vtep.spec.name);
        }
        const plane = new VxlanDataPlane({ kernel, log, ext: extIface, cfg, config, lease, vteps, ...(onCreated ? { onCreated } : {}) });
        return {
          lease,
          // Dual stack: one pod MTU must fit both tunnels.
          mtu: Math.min(...vteps.map((v) => v.spec.mtu)),
          async run(runSignal) {
            const { runCommand: _run, disableTxChecksumOffload: _off, ...tuning } = init;
            const reconciler = new PeerReconciler(plane, { ...tuning, kernel, log });
            await reconciler.run(watchPeers(subnets, lease, runSignal, log), runSignal);
          },
        };
      },
    }),
  };
}
