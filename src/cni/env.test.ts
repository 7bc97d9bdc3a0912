import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCniEnv, validateContainerId, validateInterfaceName } from './env.ts';
import { throwsCni } from './test-helpers.ts';

const full = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };

describe('CNI environment', () => {
  it('reads every variable', () => {
    assert.deepEqual(parseCniEnv({ ...full, CNI_ARGS: 'K8S_POD_NAME=a' }), {
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/p',
      ifname: 'eth0',
      args: 'K8S_POD_NAME=a',
      path: '/opt/cni/bin',
    });
  });
  it('names every missing variable the command needs (code 4, libcni wording)', () => {
    throwsCni(() => parseCniEnv({ CNI_COMMAND: 'ADD' }), 4, 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing');
    throwsCni(() => parseCniEnv({ ...full, CNI_CONTAINERID: '' }), 4, 'required env variables [CNI_CONTAINERID] missing');
    throwsCni(() => parseCniEnv({ CNI_COMMAND: 'GC' }), 4, 'required env variables [CNI_PATH] missing');
  });
  it('DEL needs no CNI_NETNS; STATUS and VERSION need only the command', () => {
    assert.equal(parseCniEnv({ ...full, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }).command, 'DEL');
    assert.equal(parseCniEnv({ CNI_COMMAND: 'STATUS' }).command, 'STATUS');
    assert.equal(parseCniEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
  });
  it('rejects an unknown command (code 4)', () => {
    throwsCni(() => parseCniEnv({ ...full, CNI_COMMAND: 'GET' }), 4, 'unknown CNI_COMMAND: GET');
  });
  it('checks the container ID before anything else uses it', () => {
    throwsCni(() => parseCniEnv({ ...full, CNI_CONTAINERID: '../etc/passwd' }), 4, 'invalid characters in containerID', '../etc/passwd');
  });
});

describe('container ID', () => {
  for (const ok of ['a', '0', 'abc-DEF_1.2', 'f'.repeat(64), 'a.b']) {
    it(`accepts ${JSON.stringify(ok)}`, () => validateContainerId(ok));
  }
  for (const bad of ['-a', '_a', '.a', '.', '..', 'a/b', '/abs', 'a..b', 'a b', 'a\nb', 'é', 'a:b', 'x'.repeat(256)]) {
    it(`rejects ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 10)}…` : bad)} with code 4`, () =>
      throwsCni(() => validateContainerId(bad), 4, 'invalid characters in containerID', bad));
  }
  it('an empty ID is code 3 (unknown container), as libcni', () => throwsCni(() => validateContainerId(''), 3, 'missing containerID'));
});

describe('interface name', () => {
  it('accepts eth0 and 15 characters', () => {
    validateInterfaceName('eth0');
    validateInterfaceName('a'.repeat(15));
  });
  it('rejects empty, long, dot names, / : and whitespace (code 4)', () => {
    throwsCni(() => validateInterfaceName(''), 4, 'interface name is empty');
    throwsCni(() => validateInterfaceName('a'.repeat(16)), 4, 'interface name is too long');
    throwsCni(() => validateInterfaceName('..'), 4, 'interface name is . or ..');
    for (const n of ['a/b', 'a:b', 'a b', 'a\tb']) throwsCni(() => validateInterfaceName(n), 4, 'interface name contains / or : or whitespace characters');
  });
});
