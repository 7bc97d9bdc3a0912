import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../config/index.ts';
import { createBackends } from './compose.ts';
import { judgeConfigChange } from './config-watch.ts';

const SOURCE = 'etcd key /coreos.com/network/config';
const running = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}', { source: SOURCE });
const checkBackend = (c: typeof running): void => void createBackends().get(c.backend.type).checkConfig(c);
const judge = (text: string | undefined): string | undefined => judgeConfigChange(text, SOURCE, running, checkBackend);

describe('judgeConfigChange', () => {
  it('is silent when the new text behaves the same (spacing, key case, defaults spelled out)', () => {
    assert.equal(judge('{ "network": "10.244.0.0/16", "backend": {"type": "vxlan"} }'), undefined);
    assert.equal(judge('{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}'), undefined);
  });
  it('asks for a restart when a valid configuration differs', () => {
    assert.equal(judge('{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan"}}'), `network configuration changed (${SOURCE}); restart flanneld to apply it`);
    assert.equal(judge('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}'), `network configuration changed (${SOURCE}); restart flanneld to apply it`);
  });
  it('names what is wrong with an invalid one, the Backend section included, and keeps the running one', () => {
    assert.equal(judge('{"Network":"0.0.0.0/0"}'), `network configuration changed (${SOURCE}) but is invalid: Network 0.0.0.0/0 cannot be a pod network: it is the whole IPv4 address space, so pod traffic could not be told from any other traffic; keeping the running configuration`);
    assert.equal(judge('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":"x"}}'), `network configuration changed (${SOURCE}) but is invalid: Backend.VNI must be a whole number from 0 to 16777215, got string "x"; keeping the running configuration`);
    assert.equal(judge('{"Network":'), `network configuration changed (${SOURCE}) but is invalid: is not valid JSON (Unexpected end of JSON input); keeping the running configuration`);
  });
  it('reports a deleted configuration', () => {
    assert.equal(judge(undefined), `network configuration (${SOURCE}) was deleted; keeping the running configuration (flanneld needs it again at its next start)`);
  });
});
