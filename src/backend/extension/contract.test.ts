/**
 * The backend contract for extension, with commands that keep a record per peer: SubnetAddCommand
 * writes what it was told (SUBNET, PUBLIC_IP, the BackendData on stdin) to a file named after the
 * subnet, SubnetRemoveCommand deletes it; those files are the backend's state (extraLines).
 * PreStartupCommand prints the machine's identity file, so the BackendData is that text, and the
 * same after a restart. Each machine's commands work in a temp dir of their own, given to them
 * as CONTRACT_DIR by a runner that wraps the real one (sh -c, the real exec seam).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execRunner, type CommandRunner } from '../../exec/index.ts';
import type { Lease } from '../../lease/index.ts';
import { backendContract, publicIPOf, subnetOf } from '../testing/backend-contract.ts';
import { extension } from './index.ts';

const FILE_OF_SUBNET = '"$CONTRACT_DIR/peers/$(echo "$SUBNET" | tr / _)"';

backendContract('extension', {
  type: 'extension',
  backend: {
    PreStartupCommand: 'cat "$CONTRACT_DIR/identity"',
    SubnetAddCommand: `echo "extension peer $SUBNET public-ip $PUBLIC_IP data $(cat)" > ${FILE_OF_SUBNET}`,
    SubnetRemoveCommand: `rm ${FILE_OF_SUBNET}`,
  },
  machine(_kernel, t) {
    const dir = mkdtempSync(join(tmpdir(), 'flannel-ext-contract-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'peers'));
    const identity = `node-${dir.slice(-6)}`;
    writeFileSync(join(dir, 'identity'), `${identity}\n`);
    const real = execRunner();
    const runner: CommandRunner = { run: (command, args, o = {}) => real.run(command, args, { ...o, env: { ...o.env, CONTRACT_DIR: dir } }) };
    return {
      factory: () => extension({ runCommand: runner, retry: { initialMs: 20, maxMs: 100 } }),
      expectedBackendData: async () => readFileSync(join(dir, 'identity'), 'utf8').trim(),
      extraLines: async () => readdirSync(join(dir, 'peers')).map((f) => readFileSync(join(dir, 'peers', f), 'utf8').trim()),
    };
  },
  podMtu: (extMtu) => extMtu,
  ownLines: () => [],
  peerData: (n) => `identity-of-peer-${n}`,
  peerLines: (peer: Lease) => [`extension peer ${subnetOf(peer).toString()} public-ip ${publicIPOf(peer).toString()} data ${String(peer.attrs.backendData)}`],
  damages: [],
  config: {
    invalid: [{ backend: { SubnetAddCommand: 5 }, message: 'Backend.SubnetAddCommand must be a string: a shell command line, run with sh -c, got number 5' }],
    unknownKey: {
      backend: { VNI: 1 },
      warning: 'Backend.VNI is not an extension setting and is ignored (extension settings: PreStartupCommand, PostStartupCommand, SubnetAddCommand, SubnetRemoveCommand)',
    },
  },
});
