import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE, parseNetConf } from './net-conf.ts';
import { throwsCni } from './test-helpers.ts';
import { compareVersions, requireCommandVersion, versionInfo } from './versions.ts';

const parse = (o: unknown) => parseNetConf(typeof o === 'string' ? o : JSON.stringify(o));

describe('network configuration', () => {
  it('applies upstream defaults', () => {
    const c = parse({ cniVersion: '0.3.1', name: 'cbr0', type: 'flannel' });
    assert.equal(c.subnetFile, DEFAULT_SUBNET_FILE);
    assert.equal(c.dataDir, DEFAULT_DATA_DIR);
    assert.equal(DEFAULT_SUBNET_FILE, '/run/flannel/subnet.env');
    assert.equal(DEFAULT_DATA_DIR, '/var/lib/cni/flannel');
    assert.equal(c.delegate, undefined);
  });
  it('keeps unknown keys out of the way and reads ours', () => {
    const c = parse({ cniVersion: '1.1.0', name: 'n', type: 'flannel', subnetFile: '/s', dataDir: '/d', args: { x: 1 }, delegate: null, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] });
    assert.equal(c.subnetFile, '/s');
    assert.equal(c.dataDir, '/d');
    assert.equal(c.delegate, undefined);
    assert.deepEqual(c.validAttachments, [{ containerID: 'a', ifname: 'eth0' }]);
  });
  it('reads the older attachments key libcni also sends', () => {
    assert.deepEqual(parse({ cniVersion: '1.1.0', name: 'n', 'cni.dev/attachments': [{ containerID: 'a', ifname: 'eth0' }] }).validAttachments, [{ containerID: 'a', ifname: 'eth0' }]);
  });
  it('code 6 when stdin is not a JSON object', () => {
    throwsCni(() => parse('{"name":'), 6, /^error unmarshall network config: /);
    throwsCni(() => parse('[1]'), 6, 'error unmarshall network config: the network configuration must be a JSON object');
    throwsCni(() => parse({ name: 'n', cniVersion: 1 }), 6, 'error unmarshall network config: cniVersion must be a string');
  });
  it('empty means nothing but JSON whitespace; a configuration after whitespace is read, a lone { is not JSON', () => {
    for (const empty of ['', ' ', '\n\t\r ']) throwsCni(() => parse(empty), 6, 'error unmarshall network config: stdin is empty');
    assert.equal(parse(' \n{"cniVersion":"1.0.0","name":"n"}\n').name, 'n');
    throwsCni(() => parse('{'), 6, 'error unmarshall network config: stdin is not valid JSON');
    throwsCni(() => parse('\u00a0{}'), 6, 'error unmarshall network config: stdin is not valid JSON');
  });
  it('code 7 for a missing or invalid network name', () => {
    throwsCni(() => parse({ cniVersion: '1.0.0' }), 7, 'missing network name');
    throwsCni(() => parse({ cniVersion: '1.0.0', name: 'a/b' }), 7, 'invalid characters found in network name', 'a/b');
  });
  it('code 1 for a version we do not speak, a missing one counting as 0.1.0', () => {
    throwsCni(() => parse({ cniVersion: '0.2.0', name: 'n' }), 1, 'incompatible CNI versions', 'config is "0.2.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]');
    throwsCni(() => parse({ name: 'n' }), 1, 'incompatible CNI versions', /config is "0\.1\.0"/);
    throwsCni(() => parse({ cniVersion: '2.0.0', name: 'n' }), 1, 'incompatible CNI versions');
  });
  it('code 7 naming the key for a wrongly typed field', () => {
    throwsCni(() => parse({ cniVersion: '1.0.0', name: 'n', delegate: 'bridge' }), 7, 'invalid network config "n": delegate must be an object');
    throwsCni(() => parse({ cniVersion: '1.0.0', name: 'n', dataDir: '' }), 7, 'invalid network config "n": dataDir must not be empty');
    throwsCni(() => parse({ cniVersion: '1.0.0', name: 'n', subnetFile: 5 }), 7, 'invalid network config "n": subnetFile must be a string');
    throwsCni(() => parse({ cniVersion: '1.1.0', name: 'n', 'cni.dev/valid-attachments': {} }), 7, 'invalid network config "n": cni.dev/valid-attachments must be a list');
    throwsCni(() => parse({ cniVersion: '1.1.0', name: 'n', 'cni.dev/valid-attachments': [{ ifname: 'eth0' }] }), 7, 'invalid network config "n": cni.dev/valid-attachments.0.containerID must be a string');
    throwsCni(() => parse({ cniVersion: '1.0.0', name: 'n', delegate: [], ipam: 3 }), 7, 'invalid network config "n": delegate must be an object', 'delegate must be an object; ipam must be an object');
  });
});

describe('versions', () => {
  it('VERSION reports 1.1.0 and the five versions spoken', () => {
    assert.deepEqual(versionInfo(), { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
  it('compares numerically', () => {
    assert.ok(compareVersions('0.10.0', '0.4.0') > 0);
    assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
    throwsCni(() => compareVersions('1.0', '1.0.0'), 6, 'malformed CNI version "1.0"');
  });
  it('CHECK needs 0.4.0, STATUS and GC 1.1.0 (code 1)', () => {
    throwsCni(() => requireCommandVersion('CHECK', '0.3.1', '0.4.0'), 1, 'config version does not allow CHECK');
    requireCommandVersion('CHECK', '0.4.0', '0.4.0');
    throwsCni(() => requireCommandVersion('GC', '1.0.0', '1.1.0'), 1, 'config version does not allow GC');
  });
});
